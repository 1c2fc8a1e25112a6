// The logging facade: line format, escaping, level filter, replaceable sink, and the rate limit for remote-triggered
// events driven by an injected clock (no sleeps).
#include "ec/agent/log.hpp"

#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

using namespace ec::agent;
using namespace std::chrono_literals;

namespace {

// 2026-11-25T20:01:02.345Z
const auto fixed_time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'795'636'862'345));

// A logger whose lines land in a vector and whose clocks the test moves.
struct captured {
  std::vector<std::string> lines;
  std::vector<log_level> levels;
  std::chrono::steady_clock::time_point now{};
  logger log{[this](const log_record& r) {
    lines.emplace_back(r.line);
    levels.push_back(r.level);
  }};
  captured() {
    log.set_clocks([] { return fixed_time; }, [this] { return now; });
  }
};

// The line without its timestamp.
std::string tail(const std::string& line) { return line.substr(std::string("2026-11-25T20:01:02.345Z ").size()); }

}  // namespace

TEST_CASE("log: a log line is UTC time with milliseconds, padded level, component, message and key=value fields") {
  captured c;
  c.log.log(log_level::warn, "session", "reconnecting", {{"attempt", 3}, {"delay_ms", 2400}});
  REQUIRE(c.lines.size() == 1);
  CHECK(c.lines[0] == "2026-11-25T20:01:02.345Z WARN  session reconnecting attempt=3 delay_ms=2400");
  CHECK(format_log_line(fixed_time, log_level::error, "spool", "full", {}) ==
        "2026-11-25T20:01:02.345Z ERROR spool full");
  CHECK(format_log_line(fixed_time, log_level::debug, "x", "y", {}) == "2026-11-25T20:01:02.345Z DEBUG x y");
  CHECK(format_log_line(std::chrono::system_clock::time_point{}, log_level::info, "a", "b", {}) ==
        "1970-01-01T00:00:00.000Z INFO  a b");
}

TEST_CASE("log: field values of every type format, and text that could break the line is quoted and escaped") {
  const std::string host = "broker one";
  const log_field fields[] = {{"ok", true},
                              {"n", -7},
                              {"u", std::uint64_t{18'446'744'073'709'551'615ULL}},
                              {"ratio", 0.25},
                              {"host", host},
                              {"empty", ""},
                              {"code", ec::error_code::bad_signature},
                              {"wait", 1500ms},
                              {"evil", "a\"b\\c\nd\x1b[2J"}};
  CHECK(tail(format_log_line(fixed_time, log_level::info, "t", "m", fields)) ==
        "INFO  t m ok=true n=-7 u=18446744073709551615 ratio=0.25 host=\"broker one\" empty=\"\" code=bad_signature "
        "wait=1500 evil=\"a\\\"b\\\\c\\nd\\x1b[2J\"");
  // A message or component carrying a newline cannot forge a second line.
  const auto line =
      format_log_line(fixed_time, log_level::warn, "admit\n", "bad\r\n2026-01-01T00:00:00.000Z ERROR x", {});
  CHECK(line.find('\n') == std::string::npos);
  CHECK(line.find('\r') == std::string::npos);
  CHECK(tail(line) == "WARN  admit\\n bad\\r\\n2026-01-01T00:00:00.000Z ERROR x");
}

TEST_CASE("log: the level filter drops less severe events") {
  captured c;
  CHECK(c.log.level() == log_level::info);
  c.log.log(log_level::debug, "a", "hidden");
  c.log.log(log_level::info, "a", "shown");
  c.log.set_level(log_level::error);
  CHECK_FALSE(c.log.enabled(log_level::warn));
  c.log.log(log_level::warn, "a", "hidden");
  c.log.log_remote(log_level::warn, "a", "hidden");
  c.log.log(log_level::error, "a", "shown");
  c.log.set_level(log_level::debug);
  c.log.log(log_level::debug, "a", "shown");
  REQUIRE(c.lines.size() == 3);
  CHECK(tail(c.lines[0]) == "INFO  a shown");
  CHECK(tail(c.lines[1]) == "ERROR a shown");
  CHECK(tail(c.lines[2]) == "DEBUG a shown");
}

TEST_CASE("log: parse_log_level reads the config's spelling") {
  CHECK(parse_log_level("error") == log_level::error);
  CHECK(parse_log_level("WARN") == log_level::warn);
  CHECK(parse_log_level("info") == log_level::info);
  CHECK(parse_log_level("debug") == log_level::debug);
  CHECK_FALSE(parse_log_level("verbose").has_value());
  CHECK(to_string(log_level::warn) == "WARN");
}

TEST_CASE("log: log_remote lets N per second through and summarises the rest when the window reopens") {
  captured c;
  c.log.set_remote_rate(3);
  for (int i = 0; i < 10; ++i) c.log.log_remote(log_level::warn, "admission", "task dropped", {{"reason", "replay"}});
  CHECK(c.lines.size() == 3);
  c.now += 999ms;
  c.log.log_remote(log_level::warn, "admission", "task dropped", {{"reason", "replay"}});
  CHECK(c.lines.size() == 3);  // still the same window
  c.now += 1ms;
  c.log.log_remote(log_level::warn, "admission", "task dropped", {{"reason", "expired"}});
  REQUIRE(c.lines.size() == 5);
  CHECK(tail(c.lines[3]) == "WARN  admission suppressed 8 similar messages message=\"task dropped\"");
  CHECK(tail(c.lines[4]) == "WARN  admission task dropped reason=expired");
  // A quiet window reopens without a summary.
  c.now += 5s;
  c.log.log_remote(log_level::warn, "admission", "task dropped");
  CHECK(c.lines.size() == 6);
}

TEST_CASE("log: rate limits are kept per component and message") {
  captured c;
  c.log.set_remote_rate(1);
  c.log.log_remote(log_level::warn, "admission", "bad signature");
  c.log.log_remote(log_level::warn, "admission", "bad signature");
  c.log.log_remote(log_level::warn, "admission", "expired");
  c.log.log_remote(log_level::warn, "receipts", "bad signature");
  c.log.log(log_level::warn, "admission", "bad signature");  // log() is never limited
  REQUIRE(c.lines.size() == 4);
  CHECK(tail(c.lines[1]) == "WARN  admission expired");
  CHECK(tail(c.lines[2]) == "WARN  receipts bad signature");
}

TEST_CASE("log: flush_suppressed reports closed windows and the summary keeps the most severe level") {
  captured c;
  c.log.set_remote_rate(1);
  c.log.log_remote(log_level::info, "session", "malformed packet");
  c.log.log_remote(log_level::info, "session", "malformed packet");
  c.log.log_remote(log_level::error, "session", "malformed packet");
  c.log.flush_suppressed();
  CHECK(c.lines.size() == 1);  // the window is still open
  c.now += 2s;
  c.log.flush_suppressed();
  REQUIRE(c.lines.size() == 2);
  CHECK(tail(c.lines[1]) == "ERROR session suppressed 2 similar messages message=\"malformed packet\"");
  c.log.flush_suppressed();
  CHECK(c.lines.size() == 2);  // reported once
}

TEST_CASE("log: a clock that goes back opens a new window instead of silencing a key") {
  captured c;
  c.log.set_remote_rate(1);
  c.now += 10s;
  c.log.log_remote(log_level::warn, "a", "b");
  c.log.log_remote(log_level::warn, "a", "b");
  c.now -= 5s;
  c.log.log_remote(log_level::warn, "a", "b");
  REQUIRE(c.lines.size() == 3);
  CHECK(tail(c.lines[1]) == "WARN  a suppressed 1 similar messages message=b");
}

TEST_CASE("log: redact hides the password of a URL and nothing else") {
  CHECK(redact("mqtts://agent:hunter2@broker.example:8883") == "mqtts://agent:***@broker.example:8883");
  CHECK(redact("mqtt://agent:p@ss@host/x?y") == "mqtt://agent:***@host/x?y");
  CHECK(redact("mqtt://agent@host:1883") == "mqtt://agent@host:1883");
  CHECK(redact("mqtt://host:1883") == "mqtt://host:1883");
  CHECK(redact("not a url") == "not a url");
  CHECK(redact("mqtt://host:1883/a@b:c") == "mqtt://host:1883/a@b:c");
}

TEST_CASE("log: lines from many threads arrive whole, one sink call at a time") {
  std::vector<std::string> lines;
  logger log([&](const log_record& r) { lines.emplace_back(r.line); });  // unsynchronised: the logger serialises
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&log, t] {
      for (int i = 0; i < 200; ++i) log.log(log_level::info, "worker", "step", {{"thread", t}, {"i", i}});
    });
  for (auto& t : threads) t.join();
  CHECK(lines.size() == 800);
  for (const auto& l : lines) CHECK(l.find("INFO  worker step thread=") != std::string::npos);
}

TEST_CASE("log: the default logger's sink and clocks can be replaced, and an empty sink discards") {
  auto& d = default_logger();
  std::vector<std::string> lines;
  d.set_sink([&](const log_record& r) { lines.emplace_back(r.line); });
  d.set_clocks([] { return fixed_time; }, [] { return std::chrono::steady_clock::time_point{}; });
  log(log_level::info, "test", "hello", {{"k", "v"}});
  log_remote(log_level::warn, "test", "remote");
  d.set_sink({});
  log(log_level::error, "test", "discarded");
  d.set_sink(stderr_sink());
  d.set_clocks([] { return std::chrono::system_clock::now(); }, [] { return std::chrono::steady_clock::now(); });
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == "2026-11-25T20:01:02.345Z INFO  test hello k=v");
  CHECK(tail(lines[1]) == "WARN  test remote");
}
