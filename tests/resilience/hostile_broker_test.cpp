// Resilience (issue 7 item 5): a hostile broker. Eclipse Mosquitto's broker->client malformed-packet cases
// (tests/data/mqtt-hostile-broker, MQTT v5: 1,059 cases) are played by a fake broker to real edge-agent
// processes, several in parallel. Each case: the agent survives (process alive, no sanitizer report in its log)
// and connects again afterwards; where a case expects the client to drop the connection and Paho does not, the
// divergence is a figure, not a failure. A crash whose sanitizer stack is inside Paho is recorded as an upstream
// defect with its case and the agent is restarted; any other crash, a hang or a sanitizer report fails.
//
// Commands (cases that need the client to act first): `publish-1` is the agent's own QoS 1 hello after connect
// (the fake broker waits for it and answers with the case, with the publish's packet id). The agent never
// publishes QoS 2 nor unsubscribes, so `publish-2` cases are played against its QoS 1 publish and `unsubscribe`
// cases against its SUBSCRIBE (same packet-id substitution); for those, survival is checked and the expected
// client behaviour is not judged (counted as a figure).
//
// CI plays a representative subset; EC_RESILIENCE_LONG=1 plays all 1,059; EC_HOSTILE_FILTER=<text> plays only
// the cases whose "FILE | GROUP | NAME" contains <text> (to replay one); EC_HOSTILE_VERBOSE=1 names every case
// whose expected disconnect did not happen; EC_HOSTILE_AGENT_BINARY=<path> plays against another edge-agent
// (e.g. the asan build's).
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent_process.hpp"
#include "ec/protocol/keys.hpp"
#include "fake_mqtt_broker.hpp"
#include "hostile_cases.hpp"
#include "mosquitto_broker.hpp"
#include "resilience_support.hpp"

namespace ec::test::res {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr const char* test_name = "hostile_broker";
// Each case is mostly waiting (Paho's reconnect, the watch windows), not CPU: more agents, shorter runs.
constexpr std::size_t parallel_agents = 8;
constexpr std::size_t parallel_agents_long = 8;
constexpr std::size_t subset_every_nth = 10;  // CI: ~1 in 10, plus every group and every first byte
constexpr auto first_connect_timeout = 120s;  // process start, device discovery in a child, first CONNECT
constexpr auto reconnect_timeout = 20s;       // after a case; the backoff is at most 100 ms
constexpr std::size_t log_tail_bytes = 3000;

// Lines that only a sanitizer writes.
const std::vector<std::string> sanitizer_markers = {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                                                    "runtime error:", "WARNING: ThreadSanitizer"};

std::size_t count_sanitizer_reports(const std::string& text) {
  std::size_t n = 0;
  for (const auto& m : sanitizer_markers) {
    for (auto at = text.find(m); at != std::string::npos; at = text.find(m, at + 1)) ++n;
  }
  return n;
}

// A crash is Paho's when the first frames of the sanitizer's stack are in libpaho.
bool stack_is_in_paho(const std::string& log) {
  const auto report = log.find("ERROR: AddressSanitizer");
  if (report == std::string::npos) return false;
  const auto frames_end = log.find("    #3 ", report);
  return log.substr(report, frames_end == std::string::npos ? std::string::npos : frames_end - report)
             .find("libpaho") != std::string::npos;
}

std::string tail(const std::string& s) {
  return s.size() <= log_tail_bytes ? s : "..." + s.substr(s.size() - log_tail_bytes);
}

// This build's edge-agent, or $EC_HOSTILE_AGENT_BINARY (e.g. the asan build's agent driven by a dev test binary).
std::string agent_binary() {
  const char* b = std::getenv("EC_HOSTILE_AGENT_BINARY");
  return b != nullptr && *b != '\0' ? std::string(b) : std::string(EC_AGENT_BINARY);
}

/// How one case went.
struct case_result {
  const hostile_case* c = nullptr;
  script_outcome outcome;
  bool adapted = false;   // its command is not one the agent performs: played against its nearest packet
  bool survived = false;  // alive, no sanitizer report, and it connected again
  bool upstream = false;  // crashed inside Paho (recorded, the agent restarted)
  std::string report;     // the sanitizer report of an upstream crash
  std::string failure;    // crash, hang or sanitizer report, with the agent's log tail
};

/// The script for a case: its command mapped onto what the agent does by itself after connecting.
broker_script script_for(const hostile_case& c, bool& adapted) {
  broker_script s = c.script;
  adapted = false;
  if (c.command.empty()) return s;
  if (c.command == "publish-1") {
    s.trigger = script_trigger::qos1_publish;
    return s;
  }
  adapted = true;
  s.trigger = c.command == "unsubscribe" ? script_trigger::subscribe : script_trigger::qos1_publish;
  // The client's answers would belong to a packet it never sent: only survival is checked.
  s.steps.erase(std::remove_if(s.steps.begin(), s.steps.end(), [](const script_step& st) { return !st.from_broker; }),
                s.steps.end());
  return s;
}

/// One agent and its own fake broker, playing a share of the cases.
class hostile_runner {
 public:
  hostile_runner(mosquitto_broker& password_registry, const std::string& aggregator_pem) {
    agent_process_options o;
    o.binary = agent_binary();
    o.aggregator_key_pems = {aggregator_pem};
    // Shortened reconnect backoff: one reconnect per case.
    o.settings = {{"broker.url", "\"" + broker_.url() + "\""},
                  {"broker.reconnect_min_ms", "10"},
                  {"broker.reconnect_max_ms", "100"}};
    agent_ = std::make_unique<agent_process>(password_registry, std::move(o));
  }

  /// Plays `cases` in order, one connection each; fills results(). Runs on its own thread: never throws.
  void run(const std::vector<const hostile_case*>& cases) {
    try {
      play_all(cases);
    } catch (const std::exception& e) {
      error_ = e.what();
    }
  }

  [[nodiscard]] const std::vector<case_result>& results() const { return results_; }
  [[nodiscard]] bool still_works() const { return still_works_; }
  [[nodiscard]] int exit_status() const { return exit_status_; }
  [[nodiscard]] const std::string& error() const { return error_; }
  [[nodiscard]] std::size_t sanitizer_reports() const { return count_sanitizer_reports(agent_->log_text()); }
  [[nodiscard]] std::string log_tail() const { return tail(agent_->log_text()); }
  [[nodiscard]] std::size_t restarts() const { return restarts_; }
  /// Sanitizer reports that belong to crashes inside Paho (upstream defects).
  [[nodiscard]] std::size_t upstream_reports() const { return upstream_reports_; }

 private:
  void play_all(const std::vector<const hostile_case*>& cases) {
    agent_->start();
    auto conn = next_connection(first_connect_timeout);
    for (const auto* c : cases) {
      case_result r;
      r.c = c;
      if (!conn) {
        r.failure = "no connection to play on (the agent did not come back)";
        results_.push_back(std::move(r));
        continue;
      }
      const auto script = script_for(*c, r.adapted);
      r.outcome = conn->play(script);
      conn.reset();
      conn = next_connection(reconnect_timeout);
      judge(r, conn.has_value());
      if (!r.failure.empty() || r.upstream) conn = restart_and_connect();
      results_.push_back(std::move(r));
    }
    final_probe(std::move(conn));
  }

  std::optional<fake_connection> next_connection(std::chrono::milliseconds timeout) {
    return broker_.accept(timeout, [this] { return agent_->running(); });
  }

  // The log written since the last call.
  std::string new_log() {
    const std::string all = agent_->log_text();
    std::string fresh = all.size() > log_seen_ ? all.substr(log_seen_) : std::string();
    log_seen_ = all.size();
    return fresh;
  }

  void judge(case_result& r, bool reconnected) {
    const bool alive = agent_->running();
    const std::string fresh = new_log();
    const std::size_t reports = count_sanitizer_reports(fresh);
    r.survived = alive && reconnected && reports == 0;
    if (r.survived) return;
    if (!alive && stack_is_in_paho(fresh)) {
      r.upstream = true;
      r.report = tail(fresh);
      upstream_reports_ += reports;
      return;
    }
    std::ostringstream why;
    if (!alive)
      why << "agent exited with status " << agent_->exit_status().value_or(-1);
    else if (!reconnected)
      why << "agent alive but did not connect again within the deadline (hang)";
    if (reports != 0) why << (why.tellp() > 0 ? "; " : "") << reports << " sanitizer report(s)";
    why << "\n" << tail(fresh);
    r.failure = why.str();
  }

  std::optional<fake_connection> restart_and_connect() {
    ++restarts_;
    if (agent_->running()) agent_->kill();
    agent_->start();
    return next_connection(first_connect_timeout);
  }

  // After the last case: a normal session in which the agent subscribes and publishes its hello, then SIGTERM.
  void final_probe(std::optional<fake_connection> conn) {
    if (conn) {
      broker_script probe;
      probe.trigger = script_trigger::qos1_publish;
      probe.expect_disconnect = false;
      still_works_ = conn->play(probe).triggered;
    }
    exit_status_ = agent_->terminate();
  }

  fake_mqtt_broker broker_;
  std::unique_ptr<agent_process> agent_;
  std::vector<case_result> results_;
  std::size_t log_seen_ = 0;
  std::size_t restarts_ = 0;
  std::size_t upstream_reports_ = 0;
  bool still_works_ = false;
  int exit_status_ = -1;
  std::string error_;
};

std::vector<hostile_case> cases_to_play(const std::vector<hostile_case>& all) {
  std::vector<hostile_case> chosen = long_variant() ? all : representative_subset(all, subset_every_nth);
  if (const char* filter = std::getenv("EC_HOSTILE_FILTER"); filter != nullptr && *filter != '\0') {
    std::erase_if(chosen, [&](const hostile_case& c) { return c.id().find(filter) == std::string::npos; });
  }
  return chosen;
}

std::string aggregator_public_pem() {
  auto key = protocol::private_key::generate();
  REQUIRE(key.ok());
  return key->public_half().to_pem();
}

TEST_CASE("a hostile broker's malformed MQTT v5 packets neither crash nor hang the agent, which reconnects") {
  const auto all = load_hostile_cases(fs::path(EC_TEST_DATA_DIR) / "mqtt-hostile-broker", 5);
  REQUIRE(all.size() == 1059);  // the data set's MQTT v5 cases
  const auto chosen = cases_to_play(all);
  REQUIRE(!chosen.empty());
  const std::size_t agents = std::min(long_variant() ? parallel_agents_long : parallel_agents, chosen.size());

  mosquitto_broker password_registry;  // never started: agent_process registers each agent's password in it
  const std::string aggregator_pem = aggregator_public_pem();
  std::vector<std::unique_ptr<hostile_runner>> runners;
  std::vector<std::vector<const hostile_case*>> shares(agents);
  for (std::size_t i = 0; i < chosen.size(); ++i) shares[i % agents].push_back(&chosen[i]);
  for (std::size_t i = 0; i < agents; ++i)
    runners.push_back(std::make_unique<hostile_runner>(password_registry, aggregator_pem));

  const auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < agents; ++i) threads.emplace_back([&, i] { runners[i]->run(shares[i]); });
  for (auto& t : threads) t.join();
  const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  std::size_t played = 0, survived = 0, upstream = 0, adapted = 0, judged = 0, kept = 0, dropped = 0;
  std::map<std::string, std::size_t> kept_by_file;  // expected-disconnect divergences per packet file
  const bool verbose = std::getenv("EC_HOSTILE_VERBOSE") != nullptr;
  std::size_t mismatches = 0, trigger_missed = 0, no_connect = 0, restarts = 0, reports = 0;
  for (std::size_t a = 0; a < agents; ++a) {
    const auto& runner = *runners[a];
    restarts += runner.restarts();
    reports += runner.sanitizer_reports() - runner.upstream_reports();
    for (const auto& r : runner.results()) {
      ++played;
      if (r.survived) ++survived;
      if (r.upstream) {
        ++upstream;
        MESSAGE("upstream defect (crash inside Paho): " << r.c->id() << "\n" << r.report);
      }
      CHECK_MESSAGE(r.failure.empty(), r.c->id() << ": " << r.failure);
      if (!r.failure.empty()) continue;  // not played, or the agent did not come back: nothing to judge
      if (!r.outcome.got_connect) ++no_connect;
      if (!r.outcome.triggered) ++trigger_missed;
      if (r.adapted) {
        ++adapted;
        continue;
      }
      ++judged;
      mismatches += r.outcome.recv_mismatches > 0 ? 1 : 0;
      if (r.c->script.expect_disconnect && !r.outcome.client_dropped) {
        ++kept;
        ++kept_by_file[r.c->file];
        if (verbose) MESSAGE("connection kept: " << r.c->id());
      }
      if (!r.c->script.expect_disconnect && r.outcome.client_dropped) ++dropped;
    }
    INFO("agent " << a << " log tail:\n" << runner.log_tail());
    CHECK_MESSAGE(runner.error().empty(), "agent " << a << ": " << runner.error());
    CHECK_MESSAGE(runner.still_works(), "agent " << a << " did not subscribe and publish after the last case");
    CHECK(runner.exit_status() == 0);
  }
  CHECK(played == chosen.size());
  CHECK(survived + upstream == played);
  CHECK(reports == 0);
  // The harness itself: every client spoke CONNECT first and every command hook saw the agent act.
  CHECK(no_connect == 0);
  CHECK(trigger_missed == 0);

  print_figure(test_name, "cases played", played, "of " + std::to_string(all.size()) + " (MQTT v5)");
  print_figure(test_name, "cases survived", survived, "of " + std::to_string(played));
  print_figure(test_name, "crashes inside Paho (upstream defects, agent restarted)", upstream, "cases");
  print_figure(test_name, "agent restarts", restarts, "restarts");
  print_figure(test_name, "sanitizer reports (outside Paho crashes)", reports, "reports");
  print_figure(test_name, "expected disconnect, connection kept (Paho laxness)", kept, "of " + std::to_string(judged));
  for (const auto& [file, n] : kept_by_file)
    print_figure(test_name, "expected disconnect, connection kept, " + file, n, "cases");
  print_figure(test_name, "expected to stay, connection dropped", dropped, "of " + std::to_string(judged));
  print_figure(test_name, "expected client packet missing or different", mismatches, "of " + std::to_string(judged));
  print_figure(test_name, "cases with a command the agent does not perform (survival only)", adapted, "cases");
  print_figure(test_name, "parallel agents", agents, "agents");
  print_figure(test_name, "time", seconds, "s");
}

}  // namespace
}  // namespace ec::test::res
