// Helpers for the transport tests: a thread-safe inbox and event log that tests wait on with deadlines.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ec/transport/mqtt_session.hpp"
#include "mosquitto_broker.hpp"

namespace ec::test {

using namespace std::chrono_literals;

/// Messages received by a session, in arrival order; tests wait for a count with a deadline.
class inbox {
 public:
  /// The on_message handler feeding this inbox.
  transport::mqtt_session::message_handler handler() {
    return [this](std::string_view topic, std::span<const std::uint8_t> payload) {
      {
        std::lock_guard lk(mu_);
        messages_.emplace_back(std::string(topic), std::string(payload.begin(), payload.end()));
      }
      cv_.notify_all();
    };
  }

  /// Waits until pred(messages) holds or the timeout passes.
  bool wait_for(const std::function<bool(const std::vector<std::pair<std::string, std::string>>&)>& pred,
                std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return pred(messages_); });
  }

  /// Waits until at least n messages arrived.
  bool wait_count(std::size_t n, std::chrono::milliseconds timeout = 10s) {
    return wait_for([n](const auto& m) { return m.size() >= n; }, timeout);
  }

  /// Waits until a message on `topic` with `payload` arrived.
  bool wait_message(const std::string& topic, const std::string& payload, std::chrono::milliseconds timeout = 10s) {
    return wait_for(
        [&](const auto& m) {
          for (const auto& [t, p] : m) {
            if (t == topic && p == payload) return true;
          }
          return false;
        },
        timeout);
  }

  std::vector<std::pair<std::string, std::string>> snapshot() const {
    std::lock_guard lk(mu_);
    return messages_;
  }

  std::size_t count_topic(const std::string& topic) const {
    std::lock_guard lk(mu_);
    std::size_t n = 0;
    for (const auto& m : messages_) n += m.first == topic ? 1 : 0;
    return n;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<std::string, std::string>> messages_;
};

/// Connect events and log lines of a session, waited on like the inbox.
class session_events {
 public:
  /// Records each on_connected call.
  transport::mqtt_session::connected_handler connected_handler() {
    return [this](bool session_present, std::uint16_t receive_maximum) {
      {
        std::lock_guard lk(mu_);
        connects_.push_back({session_present, receive_maximum, std::chrono::steady_clock::now()});
      }
      cv_.notify_all();
    };
  }

  /// Records each on_connection_lost call.
  transport::mqtt_session::connection_lost_handler lost_handler() {
    return [this](std::string_view) {
      {
        std::lock_guard lk(mu_);
        ++losses_;
      }
      cv_.notify_all();
    };
  }

  /// A log sink that keeps the lines (tests stay quiet and can assert on them).
  transport::log_sink sink() {
    return [this](transport::log_level, std::string_view line) {
      {
        std::lock_guard lk(mu_);
        lines_.emplace_back(line);
        if (on_line_) on_line_(line);
      }
      cv_.notify_all();
    };
  }

  /// Called for each log line, under the events' lock (keep it short).
  void set_on_line(std::function<void(std::string_view)> f) {
    std::lock_guard lk(mu_);
    on_line_ = std::move(f);
  }

  struct connect_event {
    bool session_present;
    std::uint16_t receive_maximum;
    std::chrono::steady_clock::time_point at;
  };

  bool wait_connects(std::size_t n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return connects_.size() >= n; });
  }

  bool wait_losses(std::size_t n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return losses_ >= n; });
  }

  /// Waits until `n` log lines contain `needle`.
  bool wait_log(std::string_view needle, std::size_t n = 1, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout, [&] {
      std::size_t k = 0;
      for (const auto& l : lines_) k += l.find(needle) != std::string::npos ? 1 : 0;
      return k >= n;
    });
  }

  std::vector<connect_event> connects() const {
    std::lock_guard lk(mu_);
    return connects_;
  }

  std::vector<std::string> lines() const {
    std::lock_guard lk(mu_);
    return lines_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<connect_event> connects_;
  std::size_t losses_ = 0;
  std::vector<std::string> lines_;
  std::function<void(std::string_view)> on_line_;
};

/// Options for a session against the test broker: fast reconnects, pinned jitter seed, quiet log.
inline transport::session_options session_for(const mosquitto_broker& broker, const std::string& user,
                                              const std::string& password, session_events& events) {
  transport::session_options o;
  o.url = broker.url();
  o.client_id = user;
  o.username = user;
  o.password = password;
  o.reconnect_min_ms = 20;
  o.reconnect_max_ms = 200;
  o.reconnect_seed = 42;
  o.keepalive_s = 30;
  o.connect_timeout_s = 5;
  o.log = events.sink();
  return o;
}

/// Bytes of a string, for publish().
inline std::span<const std::uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace ec::test
