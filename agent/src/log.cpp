// The logging facade: line format, the stderr sink, the rate limiter for remote-triggered events, the one logger.
#include "ec/agent/log.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <string>

namespace ec::agent {

namespace {

// Keys the limiter remembers at most; past that, events of new keys share one overflow count. Messages are
// constant strings in code, so a well-behaved process never comes near it.
constexpr std::size_t max_limiter_keys = 1024;
constexpr auto window = std::chrono::seconds(1);

void append_escaped(std::string& out, char c) {
  switch (c) {
    case '\n':
      out += "\\n";
      return;
    case '\r':
      out += "\\r";
      return;
    case '\t':
      out += "\\t";
      return;
    default:
      break;
  }
  const auto u = static_cast<unsigned char>(c);
  if (u < 0x20 || u == 0x7f) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(u));
    out += buf;
  } else {
    out += c;
  }
}

// Text outside quotes: control characters escaped, so nothing a peer sends can start a new line or move the cursor.
void append_plain(std::string& out, std::string_view text) {
  for (const char c : text) append_escaped(out, c);
}

bool needs_quotes(std::string_view v) {
  if (v.empty()) return true;
  return std::any_of(v.begin(), v.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return c == ' ' || c == '"' || c == '=' || c == '\\' || u < 0x20 || u == 0x7f;
  });
}

void append_value(std::string& out, const log_field::value_type& value) {
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) {
          out += v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, double>) {
          char buf[32];
          std::snprintf(buf, sizeof buf, "%.6g", v);
          out += buf;
        } else if constexpr (std::is_same_v<T, std::string_view>) {
          if (!needs_quotes(v)) {
            out += v;
            return;
          }
          out += '"';
          for (const char c : v) {
            if (c == '"' || c == '\\') out += '\\';
            append_escaped(out, c);
          }
          out += '"';
        } else {
          out += std::to_string(v);
        }
      },
      value);
}

void append_time(std::string& out, std::chrono::system_clock::time_point time) {
  using namespace std::chrono;
  const auto ms_total = duration_cast<milliseconds>(time.time_since_epoch()).count();
  auto secs = static_cast<std::time_t>(ms_total / 1000);
  auto ms = ms_total % 1000;
  if (ms < 0) {
    ms += 1000;
    --secs;
  }
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  out += buf;
}

}  // namespace

std::string_view to_string(log_level level) noexcept {
  switch (level) {
    case log_level::error:
      return "ERROR";
    case log_level::warn:
      return "WARN";
    case log_level::info:
      return "INFO";
    case log_level::debug:
      return "DEBUG";
  }
  return "?";
}

std::optional<log_level> parse_log_level(std::string_view text) noexcept {
  std::string lower;
  for (const char c : text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "error") return log_level::error;
  if (lower == "warn") return log_level::warn;
  if (lower == "info") return log_level::info;
  if (lower == "debug") return log_level::debug;
  return std::nullopt;
}

std::string format_log_line(std::chrono::system_clock::time_point time, log_level level, std::string_view component,
                            std::string_view message, std::span<const log_field> fields) {
  std::string out;
  out.reserve(64 + message.size() + 16 * fields.size());
  append_time(out, time);
  out += ' ';
  const auto name = to_string(level);
  out += name;
  out.append(5 - std::min<std::size_t>(name.size(), 5), ' ');
  out += ' ';
  append_plain(out, component);
  out += ' ';
  append_plain(out, message);
  for (const auto& f : fields) {
    out += ' ';
    append_plain(out, f.key);
    out += '=';
    append_value(out, f.value);
  }
  return out;
}

std::string redact(std::string_view url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  const auto authority_start = scheme_end + 3;
  const auto authority_end = std::min(url.find_first_of("/?#", authority_start), url.size());
  const auto authority = url.substr(authority_start, authority_end - authority_start);
  const auto at = authority.rfind('@');
  if (at == std::string_view::npos) return std::string(url);
  const auto colon = authority.find(':');
  if (colon == std::string_view::npos || colon > at) return std::string(url);  // a user name alone is no secret
  return std::string(url.substr(0, authority_start + colon + 1)) + "***" +
         std::string(url.substr(authority_start + at));
}

log_sink stderr_sink() {
  return [](const log_record& r) {
    std::string text(r.line);
    text += '\n';
    std::fwrite(text.data(), 1, text.size(), stderr);  // stderr is unbuffered: one write per line
  };
}

// Fixed one-second windows per (component, message): the first N events of a window pass, the rest are counted.
struct logger::limiter {
  struct window_state {
    std::chrono::steady_clock::time_point start;
    std::uint32_t passed = 0;
    std::uint64_t suppressed = 0;
    log_level level = log_level::info;
    std::string component;
    std::string message;
  };
  std::map<std::string, window_state, std::less<>> windows;
  std::uint64_t overflow_suppressed = 0;
};

logger::logger(log_sink sink)
    : sink_(std::move(sink)),
      wall_([] { return std::chrono::system_clock::now(); }),
      steady_([] { return std::chrono::steady_clock::now(); }),
      limiter_(std::make_unique<limiter>()) {}

logger::~logger() = default;

void logger::set_sink(log_sink sink) {
  const std::lock_guard lock(mutex_);
  sink_ = std::move(sink);
}

void logger::set_remote_rate(std::uint32_t per_second) {
  const std::lock_guard lock(mutex_);
  remote_per_second_ = std::max<std::uint32_t>(per_second, 1);
}

void logger::set_clocks(wall_clock wall, steady_clock steady) {
  const std::lock_guard lock(mutex_);
  wall_ = std::move(wall);
  steady_ = std::move(steady);
  limiter_->windows.clear();  // windows measured on the old clock mean nothing on the new one
}

void logger::emit(log_level level, std::string_view component, std::string_view message,
                  std::span<const log_field> fields) {
  if (!sink_) return;
  const auto time = wall_();
  const auto line = format_log_line(time, level, component, message, fields);
  sink_(log_record{level, time, component, message, fields, line});
}

void logger::emit_summary(log_level level, std::string_view component, std::string_view message,
                          std::uint64_t suppressed) {
  const std::string text = "suppressed " + std::to_string(suppressed) + " similar messages";
  const log_field fields[] = {{"message", message}};
  emit(level, component, text, fields);
}

void logger::log(log_level level, std::string_view component, std::string_view message, log_fields fields) {
  if (!enabled(level)) return;
  const std::lock_guard lock(mutex_);
  emit(level, component, message, {fields.begin(), fields.size()});
}

void logger::log_remote(log_level level, std::string_view component, std::string_view message, log_fields fields) {
  if (!enabled(level)) return;
  const std::lock_guard lock(mutex_);
  const auto now = steady_();
  auto& windows = limiter_->windows;
  std::string key;
  key.reserve(component.size() + 1 + message.size());
  key.append(component).append(1, '\0').append(message);

  auto it = windows.find(key);
  if (it == windows.end()) {
    if (windows.size() >= max_limiter_keys) {
      // Forget closed windows (reporting what they held) before refusing a new key.
      for (auto w = windows.begin(); w != windows.end();) {
        if (now - w->second.start >= window || now < w->second.start) {
          if (w->second.suppressed > 0)
            emit_summary(w->second.level, w->second.component, w->second.message, w->second.suppressed);
          w = windows.erase(w);
        } else {
          ++w;
        }
      }
      if (windows.size() >= max_limiter_keys) {
        ++limiter_->overflow_suppressed;
        return;
      }
    }
    it = windows
             .emplace(std::move(key),
                      limiter::window_state{now, 0, 0, level, std::string(component), std::string(message)})
             .first;
  }
  auto& w = it->second;
  // A steady clock never goes back, but an injected one may: treat that as a new window too.
  if (now - w.start >= window || now < w.start) {
    if (w.suppressed > 0) emit_summary(w.level, component, message, w.suppressed);
    w.start = now;
    w.passed = 0;
    w.suppressed = 0;
  }
  if (w.passed < remote_per_second_) {
    ++w.passed;
    emit(level, component, message, {fields.begin(), fields.size()});
  } else {
    // The summary carries the most severe level suppressed in the window.
    w.level = w.suppressed == 0 ? level : std::min(w.level, level);
    ++w.suppressed;
  }
}

void logger::flush_suppressed() {
  const std::lock_guard lock(mutex_);
  const auto now = steady_();
  auto& windows = limiter_->windows;
  for (auto w = windows.begin(); w != windows.end();) {
    if (now - w->second.start >= window || now < w->second.start) {
      if (w->second.suppressed > 0)
        emit_summary(w->second.level, w->second.component, w->second.message, w->second.suppressed);
      w = windows.erase(w);
    } else {
      ++w;
    }
  }
  if (limiter_->overflow_suppressed > 0) {
    const log_field fields[] = {{"keys", static_cast<std::uint64_t>(max_limiter_keys)}};
    emit(log_level::warn, "log",
         "suppressed " + std::to_string(limiter_->overflow_suppressed) + " messages of too many kinds", fields);
    limiter_->overflow_suppressed = 0;
  }
}

logger& default_logger() {
  static logger instance;
  return instance;
}

}  // namespace ec::agent
