// The MQTT v5 session of an agent or aggregator: our own reconnect loop with jitter, subscriptions restored
// after a CONNACK without a session, QoS 1 flow control within the broker's receive maximum and a bounded
// publish queue. Paho stays behind a pimpl so that no Paho type appears here (the C API embeds this).
//
// Threads: on_message and on_connection_lost run on Paho's callback thread; on_connected runs on the
// session's own connect thread. Callbacks must return quickly, may call publish(), and must not call
// start(), stop() or the destructor. publish(), set_subscriptions(), stats() and the wait_* functions are
// callable from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "ec/protocol/error.hpp"
#include "ec/transport/session_options.hpp"

namespace ec::transport {

/// Counters and gauges of one session (a snapshot).
struct session_stats {
  std::uint64_t connects = 0;            // CONNACKs accepted
  std::uint64_t connect_failures = 0;    // attempts refused or timed out
  std::uint64_t disconnects = 0;         // established connections lost (not counting stop())
  std::uint64_t published = 0;           // publishes handed to the client library (resends included)
  std::uint64_t acked = 0;               // QoS 1 PUBACKs with success (QoS 0: written)
  std::uint64_t rejected = 0;            // PUBACKs with a failure reason (e.g. 0x87 not authorized): dropped
  std::uint64_t resent = 0;              // handed over again after a reconnect without a session
  std::uint64_t received = 0;            // messages passed to on_message
  std::uint64_t dropped_oversize = 0;    // incoming messages above max_payload_bytes
  std::uint64_t dropped_queue_full = 0;  // publish() calls refused because the queue was full
  std::uint64_t dropped_too_large = 0;   // outgoing messages above the broker's Maximum Packet Size
  std::size_t queued = 0;                // waiting in our queue
  std::size_t inflight = 0;              // handed over, not yet acknowledged
  std::size_t peak_inflight = 0;         // the most ever outstanding at once (<= receive_maximum)
  std::uint16_t receive_maximum = 0;     // from the last CONNACK (or the default)
  std::uint32_t last_backoff_ms = 0;     // the last reconnect delay chosen
  std::uint32_t backoff_ceiling_ms = 0;  // its ceiling (grows 1 s -> 60 s while attempts fail)
  bool connected = false;
};

/// An MQTT v5 client session with our reconnect policy; one broker, one client id.
class mqtt_session {
 public:
  using message_handler = std::function<void(std::string_view topic, std::span<const std::uint8_t> payload)>;
  using connected_handler = std::function<void(bool session_present, std::uint16_t receive_maximum)>;
  using connection_lost_handler = std::function<void(std::string_view reason)>;
  using will_provider = std::function<will_options()>;

  /// Stores the options; nothing connects before start().
  explicit mqtt_session(session_options options);
  /// Calls stop().
  ~mqtt_session();
  mqtt_session(const mqtt_session&) = delete;
  mqtt_session& operator=(const mqtt_session&) = delete;

  /// Sets the handler for incoming messages (set before start()); payloads above the cap never reach it.
  void on_message(message_handler handler);
  /// Sets the handler called after each CONNACK (and after subscriptions are restored); set before start().
  void on_connected(connected_handler handler);
  /// Sets a function called on the session thread before every connect attempt; the will it returns replaces
  /// options.will for that attempt (set before start()).
  void set_will_provider(will_provider provider);
  /// Sets the handler called when an established connection drops; set before start().
  void on_connection_lost(connection_lost_handler handler);

  /// Replaces the subscriptions; restored after every CONNACK without a session, applied at once if connected.
  void set_subscriptions(std::vector<subscription> subscriptions);

  /// Validates the options (URL, transport security, client id) and starts the connect loop thread.
  result<void> start();
  /// Disconnects cleanly (the will is not sent), joins the thread; queued publishes stay queued. Idempotent.
  void stop();

  /// Queues a publish (QoS 0 or 1); sent in order within the receive maximum, resent after a reconnect
  /// without a session. Fails with `unavailable` when the queue is full, `too_large` above the broker's limit.
  result<void> publish(std::string_view topic, std::span<const std::uint8_t> payload, int qos = 1,
                       bool retained = false, std::uint32_t message_expiry_s = 0);

  /// True while a connection is established.
  [[nodiscard]] bool connected() const;
  /// A snapshot of the counters.
  [[nodiscard]] session_stats stats() const;
  /// The last connect or transport error (code ok when none yet).
  [[nodiscard]] error last_error() const;

  /// Waits until connected or the timeout passes; returns connected().
  bool wait_connected(std::chrono::milliseconds timeout) const;
  /// Waits until the queue is empty and nothing is in flight, or the timeout passes; returns whether idle.
  bool wait_idle(std::chrono::milliseconds timeout) const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace ec::transport
