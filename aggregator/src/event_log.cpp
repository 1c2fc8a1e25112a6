// One line per event: "2024-05-01T12:00:00.123Z info component message key=value ...".
#include "ec/aggregator/event_log.hpp"

#include <cstdio>
#include <ctime>

namespace ec::aggregator {
namespace {

std::string utc_now() {
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

// Values from peers may hold anything: quote, and escape control characters so one event stays one line.
std::string quoted_value(std::string_view v) {
  bool plain = !v.empty();
  for (const char c : v)
    if (c == ' ' || c == '=' || c == '"' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) plain = false;
  if (plain) return std::string(v);
  std::string out = "\"";
  for (const char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", u);
      out += hex;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

std::string_view to_string(log_level level) noexcept {
  switch (level) {
    case log_level::debug:
      return "debug";
    case log_level::info:
      return "info";
    case log_level::warn:
      return "warn";
    case log_level::error:
      return "error";
  }
  return "info";
}

bool parse_log_level(std::string_view text, log_level& out) noexcept {
  for (const auto l : {log_level::debug, log_level::info, log_level::warn, log_level::error}) {
    if (to_string(l) == text) {
      out = l;
      return true;
    }
  }
  return false;
}

event_log::event_log(log_level min_level, sink out) : min_level_(min_level), out_(std::move(out)) {}

std::string event_log::format(log_level level, std::string_view component, std::string_view message,
                              std::initializer_list<log_field> fields, std::uint64_t dropped) const {
  std::string line = utc_now();
  line += ' ';
  line += to_string(level);
  line += ' ';
  line += component;
  line += ' ';
  for (const char c : message) line += (static_cast<unsigned char>(c) < 0x20) ? ' ' : c;
  for (const auto& [k, v] : fields) {
    line += ' ';
    line += k;
    line += '=';
    line += quoted_value(v);
  }
  if (dropped > 0) line += " suppressed=" + std::to_string(dropped);
  return line;
}

void event_log::write(log_level level, std::string_view component, std::string_view message,
                      std::initializer_list<log_field> fields) {
  if (level < min_level_) return;
  const auto line = format(level, component, message, fields, 0);
  std::lock_guard lk(mu_);
  if (out_) {
    out_(line);
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
}

void event_log::limited(std::string_view key, log_level level, std::string_view component, std::string_view message,
                        std::initializer_list<log_field> fields, std::uint32_t per_minute) {
  if (level < min_level_) return;
  std::uint64_t dropped = 0;
  {
    std::lock_guard lk(mu_);
    auto it = buckets_.find(key);
    if (it == buckets_.end()) {
      if (buckets_.size() > 4096) buckets_.clear();  // keys come from a fixed set; this only bounds a bug
      it = buckets_.emplace(std::string(key), bucket{}).first;
    }
    auto& b = it->second;
    const auto now = std::chrono::steady_clock::now();
    if (now - b.window_start >= std::chrono::minutes(1)) {
      b.window_start = now;
      b.used = 0;
    }
    if (b.used >= per_minute) {
      ++b.dropped;
      return;
    }
    ++b.used;
    dropped = b.dropped;
    b.dropped = 0;
  }
  const auto line = format(level, component, message, fields, dropped);
  std::lock_guard lk(mu_);
  if (out_) {
    out_(line);
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
}

}  // namespace ec::aggregator
