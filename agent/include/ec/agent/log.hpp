// The one logging facade: level, component, message and key=value fields, one line per event on stderr (or a
// replaceable sink), with rate limiting for anything a remote peer can trigger.
//
// Callers never pass secrets (passwords, tokens, private keys) or whole payloads: log sizes, ids, digests and
// error codes instead, and pass URLs through redact(). Keep `message` constant and put what varies in fields:
// rate limiting is keyed by (component, message), and constant messages are what operators grep for.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "ec/protocol/error.hpp"

namespace ec::agent {

/// Severity, most severe first; a logger writes its level and everything more severe.
enum class log_level : std::uint8_t { error = 0, warn = 1, info = 2, debug = 3 };

/// "ERROR", "WARN", "INFO", "DEBUG".
std::string_view to_string(log_level level) noexcept;
/// Parses "error", "warn", "info" or "debug" (the config's spelling; case-insensitive).
std::optional<log_level> parse_log_level(std::string_view text) noexcept;

/// One key=value pair; numbers are formatted only when the line is written. String values are viewed, not copied:
/// they must outlive the log call (temporaries in the call's argument list do).
struct log_field {
  using value_type = std::variant<std::int64_t, std::uint64_t, double, bool, std::string_view>;
  std::string_view key;
  value_type value;

  log_field(std::string_view k, bool v) : key(k), value(v) {}
  template <typename T>
  requires std::is_integral_v<T> && std::is_signed_v<T> log_field(std::string_view k, T v)
      : key(k), value(static_cast<std::int64_t>(v)) {}
  template <typename T>
  requires std::is_integral_v<T> && std::is_unsigned_v<T> &&(!std::is_same_v<T, bool>)log_field(std::string_view k, T v)
      : key(k), value(static_cast<std::uint64_t>(v)) {}
  template <typename T>
  requires std::is_floating_point_v<T> log_field(std::string_view k, T v) : key(k), value(static_cast<double>(v)) {}
  log_field(std::string_view k, std::string_view v) : key(k), value(v) {}
  log_field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  log_field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  log_field(std::string_view k, error_code v) : key(k), value(to_string(v)) {}
  template <typename Rep, typename Period>
  log_field(std::string_view k, std::chrono::duration<Rep, Period> v)
      : key(k), value(static_cast<std::int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(v).count())) {}
};

using log_fields = std::initializer_list<log_field>;

/// One event as handed to a sink; `line` is the formatted text without a newline.
struct log_record {
  log_level level = log_level::info;
  std::chrono::system_clock::time_point time;
  std::string_view component;
  std::string_view message;
  std::span<const log_field> fields;
  std::string_view line;  // "2026-11-25T20:01:02.345Z WARN  session reconnecting attempt=3 delay_ms=2400"
};

/// Receives every line that passes the level filter and the rate limit, one call at a time (under the logger's
/// lock); it must not log itself. The C API routes these to the host's callback.
using log_sink = std::function<void(const log_record&)>;
/// The default sink: the line and a newline to stderr in one write.
log_sink stderr_sink();

/// Formats a line: UTC time with milliseconds, level padded to 5, component, message, then key=value pairs;
/// values with spaces, quotes or '=' are quoted, control characters escaped, so one event is always one line.
std::string format_log_line(std::chrono::system_clock::time_point time, log_level level, std::string_view component,
                            std::string_view message, std::span<const log_field> fields);

/// "mqtts://agent:***@host:8883" for "mqtts://agent:secret@host:8883"; other text unchanged.
std::string redact(std::string_view url);

/// A thread-safe logger: level filter, sink, and a per-(component, message) rate limit for remote-triggered events.
class logger {
 public:
  using wall_clock = std::function<std::chrono::system_clock::time_point()>;
  using steady_clock = std::function<std::chrono::steady_clock::time_point()>;

  explicit logger(log_sink sink = stderr_sink());
  ~logger();
  logger(const logger&) = delete;
  logger& operator=(const logger&) = delete;

  void set_level(log_level level) noexcept { level_.store(level, std::memory_order_relaxed); }
  [[nodiscard]] log_level level() const noexcept { return level_.load(std::memory_order_relaxed); }
  /// True when an event of this level would be written (skip building expensive fields otherwise).
  [[nodiscard]] bool enabled(log_level level) const noexcept { return level <= this->level(); }
  /// Replaces the sink; an empty sink discards everything.
  void set_sink(log_sink sink);
  /// Lines per second per (component, message) that log_remote lets through (at least 1).
  void set_remote_rate(std::uint32_t per_second);
  /// Replaces the clocks: wall time stamps the lines, steady time drives the rate limit (tests, no sleeps).
  void set_clocks(wall_clock wall, steady_clock steady);

  /// Writes one event.
  void log(log_level level, std::string_view component, std::string_view message, log_fields fields = {});
  /// Writes one event a remote peer can trigger: at most N per second per (component, message); the rest are
  /// counted and reported as "suppressed K similar messages" when that key's window reopens (or on flush).
  void log_remote(log_level level, std::string_view component, std::string_view message, log_fields fields = {});
  /// Writes the pending summaries of windows that have closed (call from a periodic timer and at shutdown).
  void flush_suppressed();

 private:
  struct limiter;
  void emit(log_level level, std::string_view component, std::string_view message, std::span<const log_field> fields);
  void emit_summary(log_level level, std::string_view component, std::string_view message, std::uint64_t suppressed);

  std::atomic<log_level> level_{log_level::info};
  std::mutex mutex_;
  log_sink sink_;
  wall_clock wall_;
  steady_clock steady_;
  std::uint32_t remote_per_second_ = 10;
  std::unique_ptr<limiter> limiter_;
};

/// The process's one logger (stderr, level info). Tests replace its sink and clocks; nothing else is global.
logger& default_logger();

/// default_logger().log(...).
inline void log(log_level level, std::string_view component, std::string_view message, log_fields fields = {}) {
  default_logger().log(level, component, message, fields);
}
/// default_logger().log_remote(...).
inline void log_remote(log_level level, std::string_view component, std::string_view message, log_fields fields = {}) {
  default_logger().log_remote(level, component, message, fields);
}

}  // namespace ec::agent
