// The aggregator's logging facade: one line per event on stderr (level, component, message, key=value pairs),
// with a rate limit for anything a remote peer can trigger (conventions.md, "Errors and logs").
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace ec::aggregator {

enum class log_level : std::uint8_t { debug, info, warn, error };

/// "debug", "info", "warn", "error".
std::string_view to_string(log_level level) noexcept;
/// Parses a level name; false for an unknown one.
bool parse_log_level(std::string_view text, log_level& out) noexcept;

/// One key=value pair of a log line (values are quoted when they hold spaces or '=').
using log_field = std::pair<std::string_view, std::string>;

/// Writes log lines; thread-safe. Never give it secrets or whole payloads.
class event_log {
 public:
  /// Receives each finished line (without the newline); the default writes it to stderr.
  using sink = std::function<void(std::string_view line)>;

  explicit event_log(log_level min_level = log_level::info, sink out = {});

  /// Logs one event when `level` is at or above the minimum.
  void write(log_level level, std::string_view component, std::string_view message,
             std::initializer_list<log_field> fields = {});
  /// Like write(), but at most `per_minute` lines per `key` each minute; the next line says how many were dropped.
  void limited(std::string_view key, log_level level, std::string_view component, std::string_view message,
               std::initializer_list<log_field> fields = {}, std::uint32_t per_minute = 10);
  [[nodiscard]] log_level min_level() const { return min_level_; }

 private:
  struct bucket {
    std::chrono::steady_clock::time_point window_start;
    std::uint32_t used = 0;
    std::uint64_t dropped = 0;
  };
  std::string format(log_level level, std::string_view component, std::string_view message,
                     std::initializer_list<log_field> fields, std::uint64_t dropped) const;

  log_level min_level_;
  sink out_;
  std::mutex mu_;
  std::map<std::string, bucket, std::less<>> buckets_;
};

}  // namespace ec::aggregator
