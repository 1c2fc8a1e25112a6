#include "ec/transport/mqtt_session.hpp"

#include <mqtt/async_client.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "ec/transport/broker_url.hpp"
#include "ec/transport/reconnect_backoff.hpp"
#include "socket_tuning.hpp"

namespace ec::transport {
namespace {

using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Paho C counts publishes it has not yet written against max_buffered_messages and throws −12 above it even
// while connected (toolchain-notes, "Paho MQTT C++"); we never hand over more than max_inflight, plus slack.
constexpr int paho_buffer_slack = 16;
// Fixed header + topic length + packet id + properties: generous upper bound for the size check.
constexpr std::size_t publish_overhead_bytes = 64;
// MQTT v5 reason codes at or above this are failures (PUBACK 0x87 "not authorized", 0x97 "quota exceeded").
constexpr int first_failure_reason = 0x80;

const char* level_name(log_level level) {
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
  return "?";
}

// A Paho exception as one line: the C return code, the v5 reason code when there is one.
std::string describe(const mqtt::exception& e) {
  std::string out = e.get_message();
  if (out.empty()) out = e.what();
  out += " (rc=" + std::to_string(e.get_return_code());
  if (e.get_reason_code() != 0)
    out += ", reason=" + std::to_string(e.get_reason_code()) + " " + e.get_reason_code_str();
  out += ")";
  return out;
}

bool valid_publish_topic(std::string_view topic) {
  if (topic.empty() || topic.size() > 65535) return false;
  return topic.find_first_of(std::string_view("+#\0", 3)) == std::string_view::npos;
}

// At most one line per second for anything a remote peer can trigger; counts what it suppressed.
class rate_limiter {
 public:
  // Returns true when a line may be written now; `suppressed` then says how many were skipped before it.
  bool allow(std::uint64_t& suppressed) {
    const auto now = steady::now();
    if (last_ != steady::time_point{} && now - last_ < 1s) {
      ++skipped_;
      return false;
    }
    last_ = now;
    suppressed = std::exchange(skipped_, 0);
    return true;
  }

 private:
  steady::time_point last_{};
  std::uint64_t skipped_ = 0;
};

}  // namespace

struct mqtt_session::impl {
  struct pending {
    std::uint64_t seq = 0;
    std::string topic;
    std::vector<std::uint8_t> payload;
    int qos = 1;
    bool retained = false;
    std::uint32_t expiry_s = 0;
  };

  // Per-publish completion: on_success at PUBACK (QoS 1) or once written (QoS 0); on_failure for a PUBACK
  // with a failure reason code, or when the client gives the message up (connection lost).
  class publish_listener final : public mqtt::iaction_listener {
   public:
    explicit publish_listener(impl& owner) : owner_(owner) {}
    void on_success(const mqtt::token& tok) override { owner_.publish_done(tok, true); }
    void on_failure(const mqtt::token& tok) override { owner_.publish_done(tok, false); }

   private:
    impl& owner_;
  };

  // Paho's callback thread: connection lost and incoming messages.
  class paho_callback final : public mqtt::callback {
   public:
    explicit paho_callback(impl& owner) : owner_(owner) {}
    void connection_lost(const mqtt::string& cause) override { owner_.handle_lost(cause); }
    void message_arrived(mqtt::const_message_ptr msg) override { owner_.handle_message(msg); }

   private:
    impl& owner_;
  };

  explicit impl(session_options o)
      : opts(std::move(o)), backoff(opts.reconnect_min_ms, opts.reconnect_max_ms, opts.reconnect_seed) {}

  session_options opts;
  broker_url url;
  message_handler message_cb;
  connected_handler connected_cb;
  will_provider will_cb;
  will_options current_will;  // owns the bytes the connect options point at
  connection_lost_handler lost_cb;

  mutable std::mutex mu;
  mutable std::condition_variable wake;     // the session thread: queue, acks, loss, stop
  mutable std::condition_variable changed;  // wait_connected / wait_idle
  std::deque<pending> queue;                // sorted by seq
  std::map<std::uint64_t, pending> inflight;
  std::vector<subscription> subs;
  bool subs_dirty = false;
  bool running = false;
  bool stopping = false;
  bool is_connected = false;
  bool lost = false;
  bool hold_handover = false;  // a publish failed while connected: pause briefly rather than spin
  std::uint64_t next_seq = 1;
  std::uint16_t receive_max = 0;
  std::uint32_t broker_max_packet = 0;  // 0 = not announced
  session_stats st;
  error last_err;
  rate_limiter oversize_log;
  rate_limiter rejected_log;

  std::unique_ptr<mqtt::connect_options> conn_opts;
  std::unique_ptr<mqtt::async_client> client;
  publish_listener listener{*this};
  paho_callback callbacks{*this};
  reconnect_backoff backoff;
  std::thread thread;

  void log(log_level level, const std::string& message) const {
    if (opts.log) {
      opts.log(level, message);
    } else {
      std::fprintf(stderr, "%s mqtt: %s client=%s\n", level_name(level), message.c_str(), opts.client_id.c_str());
    }
  }

  std::uint16_t inflight_limit() const {
    const std::uint16_t rm = receive_max != 0 ? receive_max : opts.default_receive_maximum;
    return std::max<std::uint16_t>(1, std::min(rm, std::max<std::uint16_t>(opts.max_inflight, 1)));
  }

  // Puts a message back in seq order (it was handed over before anything still queued).
  void requeue_locked(pending p) {
    const auto pos = std::lower_bound(queue.begin(), queue.end(), p.seq,
                                      [](const pending& a, std::uint64_t s) { return a.seq < s; });
    queue.insert(pos, std::move(p));
  }

  void set_error_locked(error_code code, std::string message) { last_err = fail(code, std::move(message)); }

  // ---- Paho's callback thread ----

  void handle_lost(const std::string& cause) {
    bool was_connected = false;
    {
      std::lock_guard lk(mu);
      was_connected = is_connected;
      if (is_connected) ++st.disconnects;
      is_connected = false;
      lost = true;
      set_error_locked(error_code::unavailable, "connection lost: " + (cause.empty() ? "socket closed" : cause));
    }
    wake.notify_all();
    changed.notify_all();
    if (!was_connected) return;
    log(log_level::warn, "connection lost: " + (cause.empty() ? std::string("socket closed") : cause));
    if (lost_cb) {
      try {
        lost_cb(cause.empty() ? std::string_view("socket closed") : std::string_view(cause));
      } catch (...) {
        log(log_level::error, "on_connection_lost handler threw; ignored");
      }
    }
  }

  void handle_message(const mqtt::const_message_ptr& msg) {
    if (!msg) return;
    const std::string& payload = msg->get_payload();
    if (payload.size() > opts.max_payload_bytes) {
      std::uint64_t suppressed = 0;
      bool write = false;
      {
        std::lock_guard lk(mu);
        ++st.dropped_oversize;
        write = oversize_log.allow(suppressed);
      }
      if (write) {
        log(log_level::warn,
            "dropped oversize message topic=" + msg->get_topic() + " bytes=" + std::to_string(payload.size()) +
                " cap=" + std::to_string(opts.max_payload_bytes) + " suppressed=" + std::to_string(suppressed));
      }
      return;
    }
    {
      std::lock_guard lk(mu);
      ++st.received;
    }
    if (!message_cb) return;
    try {
      message_cb(msg->get_topic(),
                 std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()));
    } catch (...) {
      // An exception must never unwind into Paho C.
      log(log_level::error, "on_message handler threw; message dropped topic=" + msg->get_topic());
    }
  }

  void publish_done(const mqtt::token& tok, bool ok) {
    const auto seq = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(tok.get_user_context()));
    const int reason = static_cast<int>(tok.get_reason_code());
    std::string rejected_topic;
    std::uint64_t suppressed = 0;
    bool write = false;
    {
      std::lock_guard lk(mu);
      const auto it = inflight.find(seq);
      if (it == inflight.end()) return;  // already requeued after a reconnect without a session
      if (ok) {
        ++st.acked;
        inflight.erase(it);
      } else if (reason >= first_failure_reason) {
        ++st.rejected;
        rejected_topic = it->second.topic;
        write = rejected_log.allow(suppressed);
        inflight.erase(it);
      } else if (it->second.qos == 0) {
        inflight.erase(it);  // at most once
      } else {
        // Given up by the client (connection lost): send again after the reconnect.
        pending p = std::move(it->second);
        inflight.erase(it);
        requeue_locked(std::move(p));
        if (is_connected && !lost) hold_handover = true;
      }
    }
    wake.notify_all();
    changed.notify_all();
    if (write) {
      log(log_level::warn, "broker rejected publish topic=" + rejected_topic + " reason=" + std::to_string(reason) +
                               " suppressed=" + std::to_string(suppressed));
    }
  }

  // ---- the session thread ----

  bool should_stop() const {
    std::lock_guard lk(mu);
    return stopping;
  }

  // Built once in start() and kept: Paho C++ 1.2.0 copies of connect_options (the builder's finalize(), the
  // by-value connect() argument) can keep C pointers into the object they were copied from, so a temporary
  // builder left the CONNECT properties dangling (an intermittent SIGSEGV in MQTTProperties_copy on reconnect).
  // Setters on a long-lived object make every such pointer point here.
  void build_connect_options() {
    conn_opts = std::make_unique<mqtt::connect_options>();
    auto& c = *conn_opts;
    c.set_mqtt_version(MQTTVERSION_5);
    c.set_clean_start(opts.clean_start);
    c.set_keep_alive_interval(std::chrono::seconds(opts.keepalive_s));
    c.set_connect_timeout(std::chrono::seconds(std::max<std::uint32_t>(opts.connect_timeout_s, 1)));
    c.set_max_inflight(std::max<int>(opts.max_inflight, 1));
    c.set_automatic_reconnect(false);
    c.set_properties(mqtt::properties{
        mqtt::property(mqtt::property::SESSION_EXPIRY_INTERVAL, static_cast<int32_t>(opts.session_expiry_s))});
    if (!opts.username.empty()) c.set_user_name(opts.username);
    if (!opts.password.empty()) c.set_password(mqtt::binary_ref(opts.password));
    if (!opts.will.topic.empty()) {
      c.set_will(mqtt::will_options(opts.will.topic, opts.will.payload.data(), opts.will.payload.size(), opts.will.qos,
                                    opts.will.retained));
    }
    if (url.tls) {
      mqtt::ssl_options ssl;
      if (!opts.tls.ca_file.empty()) ssl.set_trust_store(opts.tls.ca_file);
      if (!opts.tls.cert_file.empty()) ssl.set_key_store(opts.tls.cert_file);
      if (!opts.tls.key_file.empty()) ssl.set_private_key(opts.tls.key_file);
      ssl.set_enable_server_cert_auth(true);
      ssl.set_verify(opts.tls.verify_hostname);
      c.set_ssl(std::move(ssl));
    }
  }

  struct connack {
    bool session_present = false;
    std::uint16_t receive_maximum = 0;
    std::uint32_t max_packet = 0;
  };

  // One connect attempt; waits for the CONNACK in short slices so that stop() is not held up.
  std::optional<connack> connect_once() {
    {
      std::lock_guard lk(mu);
      lost = false;
    }
    if (will_cb) {
      // A fresh will per attempt (the agent's hello carries a session_seq that grows on every connection).
      current_will = will_cb();
      if (!current_will.topic.empty())
        conn_opts->set_will(mqtt::will_options(current_will.topic, current_will.payload.data(),
                                               current_will.payload.size(), current_will.qos, current_will.retained));
    }
    try {
      auto tok = client->connect(*conn_opts);
      const auto deadline =
          steady::now() + std::chrono::seconds(std::max<std::uint32_t>(opts.connect_timeout_s, 1)) + 5s;
      while (!tok->wait_for(50ms)) {
        if (should_stop()) return std::nullopt;
        if (steady::now() > deadline) {
          std::lock_guard lk(mu);
          ++st.connect_failures;
          set_error_locked(error_code::timeout, "connect timed out");
          return std::nullopt;
        }
      }
      const auto rsp = tok->get_connect_response();
      connack out;
      out.session_present = rsp.is_session_present();
      const auto& props = rsp.get_properties();
      if (props.contains(mqtt::property::RECEIVE_MAXIMUM)) {
        out.receive_maximum = mqtt::get<uint16_t>(props, mqtt::property::RECEIVE_MAXIMUM);
      }
      if (props.contains(mqtt::property::MAXIMUM_PACKET_SIZE)) {
        out.max_packet = mqtt::get<uint32_t>(props, mqtt::property::MAXIMUM_PACKET_SIZE);
      }
      return out;
    } catch (const mqtt::exception& e) {
      std::string what = describe(e);
      {
        std::lock_guard lk(mu);
        ++st.connect_failures;
        // v5 CONNACK 0x86 bad user name or password, 0x87 not authorized (Paho reports them as the return code);
        // v3 CONNACK 4 and 5 for the same.
        const int rc = e.get_return_code();
        const int reason = e.get_reason_code();
        const bool auth = rc == 0x86 || rc == 0x87 || reason == 0x86 || reason == 0x87 || rc == 4 || rc == 5;
        set_error_locked(auth ? error_code::invalid_argument : error_code::unavailable,
                         std::string(auth ? "broker refused the credentials: " : "connect failed: ") + what);
      }
      log(log_level::warn, "connect to " + url.paho_uri() + " failed: " + what);
      return std::nullopt;
    } catch (const std::exception& e) {
      {
        std::lock_guard lk(mu);
        ++st.connect_failures;
        set_error_locked(error_code::unavailable, std::string("connect failed: ") + e.what());
      }
      log(log_level::warn, std::string("connect failed: ") + e.what());
      return std::nullopt;
    }
  }

  // Subscribes to the current list; returns false when the connection broke meanwhile.
  bool apply_subscriptions() {
    std::vector<subscription> list;
    {
      std::lock_guard lk(mu);
      list = subs;
      subs_dirty = false;
    }
    if (list.empty()) return true;
    auto filters = std::make_shared<mqtt::string_collection>();
    mqtt::iasync_client::qos_collection qos;
    for (const auto& s : list) {
      filters->push_back(s.filter);
      qos.push_back(s.qos);
    }
    try {
      auto tok = client->subscribe(filters, qos);
      const auto deadline = steady::now() + std::chrono::seconds(std::max<std::uint32_t>(opts.connect_timeout_s, 1));
      while (!tok->wait_for(50ms)) {
        if (should_stop()) return false;
        if (steady::now() > deadline) throw mqtt::exception(MQTTASYNC_FAILURE, "subscribe timed out");
      }
      const auto rsp = tok->get_subscribe_response();
      const auto& codes = rsp.get_reason_codes();
      for (std::size_t i = 0; i < codes.size() && i < list.size(); ++i) {
        if (static_cast<int>(codes[i]) >= first_failure_reason) {
          log(log_level::warn, "subscription refused filter=" + list[i].filter +
                                   " reason=" + std::to_string(static_cast<int>(codes[i])));
        }
      }
      log(log_level::debug, "subscribed to " + std::to_string(list.size()) + " filters");
      return true;
    } catch (const mqtt::exception& e) {
      {
        std::lock_guard lk(mu);
        subs_dirty = true;  // try again after the next CONNACK
        set_error_locked(error_code::unavailable, "subscribe failed: " + describe(e));
      }
      log(log_level::warn, "subscribe failed: " + describe(e));
      return false;
    }
  }

  // After a CONNACK: record it, restore subscriptions and what the client dropped, then tell the owner.
  bool establish(const connack& ack) {
    {
      std::lock_guard lk(mu);
      if (lost) return false;  // dropped between CONNACK and here
      is_connected = true;
      hold_handover = false;
      ++st.connects;
      receive_max = ack.receive_maximum != 0 ? ack.receive_maximum : opts.default_receive_maximum;
      broker_max_packet = ack.max_packet;
      if (!ack.session_present) {
        // Paho drops unacknowledged QoS 1 messages when the broker has no session: send them again, in order.
        while (!inflight.empty()) {
          auto node = inflight.extract(inflight.begin());
          ++st.resent;
          requeue_locked(std::move(node.mapped()));
        }
        if (!subs.empty()) subs_dirty = true;
      }
      last_err = error{};
    }
    changed.notify_all();
    detail::disable_nagle_to_port(url.port);
    log(log_level::info, "connected to " + url.paho_uri() + " session_present=" + (ack.session_present ? "1" : "0") +
                             " receive_maximum=" + std::to_string(receive_max));
    bool dirty = false;
    {
      std::lock_guard lk(mu);
      dirty = subs_dirty;
    }
    if (dirty && !apply_subscriptions()) return false;
    if (connected_cb) {
      try {
        connected_cb(ack.session_present, receive_max);
      } catch (...) {
        log(log_level::error, "on_connected handler threw; ignored");
      }
    }
    return true;
  }

  // Hands queued messages to Paho while the window allows, until the connection drops or stop() is called.
  void serve() {
    std::unique_lock lk(mu);
    while (true) {
      if (stopping || lost) return;
      if (subs_dirty) {
        lk.unlock();
        const bool ok = apply_subscriptions();
        lk.lock();
        if (!ok) {
          // The connection broke (or stop): the loss callback will arrive; wait for it.
          wake.wait_for(lk, 100ms, [&] { return stopping || lost; });
        }
        continue;
      }
      if (hold_handover) {
        wake.wait_for(lk, 100ms, [&] { return stopping || lost; });
        hold_handover = false;
        continue;
      }
      const std::size_t limit = inflight_limit();
      if (!queue.empty() && inflight.size() < limit) {
        std::vector<std::pair<std::uint64_t, mqtt::message_ptr>> batch;
        while (!queue.empty() && inflight.size() < limit) {
          pending p = std::move(queue.front());
          queue.pop_front();
          if (broker_max_packet != 0 &&
              p.payload.size() + p.topic.size() + publish_overhead_bytes > broker_max_packet) {
            ++st.dropped_too_large;
            continue;
          }
          auto msg = mqtt::make_message(p.topic, p.payload.data(), p.payload.size(), p.qos, p.retained);
          if (p.expiry_s != 0) {
            msg->set_properties(mqtt::properties{
                mqtt::property(mqtt::property::MESSAGE_EXPIRY_INTERVAL, static_cast<int32_t>(p.expiry_s))});
          }
          const auto seq = p.seq;
          inflight.emplace(seq, std::move(p));
          st.peak_inflight = std::max(st.peak_inflight, inflight.size());
          batch.emplace_back(seq, std::move(msg));
        }
        lk.unlock();
        hand_over(batch);
        lk.lock();
        changed.notify_all();
        continue;
      }
      wake.wait(lk);
    }
  }

  void hand_over(const std::vector<std::pair<std::uint64_t, mqtt::message_ptr>>& batch) {
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const auto seq = batch[i].first;
      try {
        client->publish(batch[i].second, reinterpret_cast<void*>(static_cast<std::uintptr_t>(seq)), listener);
        std::lock_guard lk(mu);
        ++st.published;
      } catch (const mqtt::exception& e) {
        // Not handed over: put this and the rest of the batch back, in order, and pause.
        {
          std::lock_guard lk(mu);
          for (std::size_t j = i; j < batch.size(); ++j) {
            const auto it = inflight.find(batch[j].first);
            if (it == inflight.end()) continue;
            pending p = std::move(it->second);
            inflight.erase(it);
            requeue_locked(std::move(p));
          }
          hold_handover = true;
          set_error_locked(error_code::unavailable, "publish failed: " + describe(e));
        }
        log(log_level::warn, "publish failed, requeued: " + describe(e));
        return;
      }
    }
  }

  void disconnect_cleanly() {
    bool was_connected = false;
    {
      std::lock_guard lk(mu);
      was_connected = is_connected && !lost;
    }
    if (!was_connected) return;
    try {
      // A normal DISCONNECT (reason 0): the broker discards the will.
      auto tok =
          client->disconnect(mqtt::disconnect_options_builder().timeout(std::chrono::milliseconds(2000)).finalize());
      tok->wait_for(std::chrono::milliseconds(3000));
    } catch (const mqtt::exception& e) {
      log(log_level::debug, "disconnect: " + describe(e));
    }
  }

  void run() {
    std::uint32_t attempt = 0;
    bool connect_now = true;
    while (true) {
      if (!connect_now) {
        const auto delay = backoff.next_delay(attempt);
        std::unique_lock lk(mu);
        st.last_backoff_ms = static_cast<std::uint32_t>(delay.count());
        st.backoff_ceiling_ms = static_cast<std::uint32_t>(backoff.ceiling(attempt).count());
        if (attempt < 32) ++attempt;
        changed.notify_all();
        if (wake.wait_for(lk, delay, [&] { return stopping; })) break;
      }
      connect_now = false;
      if (should_stop()) break;
      const auto ack = connect_once();
      if (!ack) continue;
      attempt = 0;
      if (establish(*ack)) serve();
      if (should_stop()) break;
      // Lost: the first retry waits up to reconnect_min_ms (jittered), later ones back off.
    }
    disconnect_cleanly();
  }
};

mqtt_session::mqtt_session(session_options options) : impl_(std::make_unique<impl>(std::move(options))) {}

mqtt_session::~mqtt_session() { stop(); }

void mqtt_session::on_message(message_handler handler) { impl_->message_cb = std::move(handler); }
void mqtt_session::on_connected(connected_handler handler) { impl_->connected_cb = std::move(handler); }
void mqtt_session::set_will_provider(will_provider provider) { impl_->will_cb = std::move(provider); }
void mqtt_session::on_connection_lost(connection_lost_handler handler) { impl_->lost_cb = std::move(handler); }

void mqtt_session::set_subscriptions(std::vector<subscription> subscriptions) {
  {
    std::lock_guard lk(impl_->mu);
    impl_->subs = std::move(subscriptions);
    impl_->subs_dirty = true;
  }
  impl_->wake.notify_all();
}

result<void> mqtt_session::start() {
  auto& s = *impl_;
  {
    std::lock_guard lk(s.mu);
    if (s.running) return fail(error_code::invalid_argument, "session already started");
  }
  if (s.opts.client_id.empty()) return fail(error_code::invalid_argument, "client_id is required");
  for (const auto& sub : s.subs) {
    if (sub.qos < 0 || sub.qos > 2 || sub.filter.empty()) {
      return fail(error_code::invalid_argument, "bad subscription '" + sub.filter + "'");
    }
  }
  auto url = check_transport_security(s.opts.url, s.opts.allow_insecure_transport);
  if (!url) return url.err();
  if (!url->tls && (!s.opts.tls.cert_file.empty() || !s.opts.tls.key_file.empty())) {
    return fail(error_code::invalid_argument, "a client certificate needs an mqtts:// url");
  }
  s.url = *url;
  try {
    const int buffered = std::max<int>(s.opts.max_inflight, 1) + paho_buffer_slack;
    // The client itself must be created for v5, not only the connect options (toolchain-notes).
    s.client = std::make_unique<mqtt::async_client>(s.url.paho_uri(), s.opts.client_id,
                                                    mqtt::create_options(MQTTVERSION_5, buffered));
    s.client->set_callback(s.callbacks);
    s.build_connect_options();
  } catch (const mqtt::exception& e) {
    return fail(error_code::invalid_argument, "cannot create MQTT client: " + describe(e));
  }
  {
    std::lock_guard lk(s.mu);
    s.running = true;
    s.stopping = false;
    s.lost = false;
  }
  s.thread = std::thread([&s] { s.run(); });
  return {};
}

void mqtt_session::stop() {
  auto& s = *impl_;
  {
    std::lock_guard lk(s.mu);
    if (!s.running) return;
    s.stopping = true;
  }
  s.wake.notify_all();
  if (s.thread.joinable()) s.thread.join();
  try {
    s.client->disable_callbacks();
  } catch (const mqtt::exception&) {
  }
  s.client.reset();
  {
    std::lock_guard lk(s.mu);
    // Whatever was handed over but not acknowledged goes back to the queue for a later start().
    while (!s.inflight.empty()) {
      auto node = s.inflight.extract(s.inflight.begin());
      s.requeue_locked(std::move(node.mapped()));
    }
    s.running = false;
    s.stopping = false;
    s.is_connected = false;
  }
  s.changed.notify_all();
}

result<void> mqtt_session::publish(std::string_view topic, std::span<const std::uint8_t> payload, int qos,
                                   bool retained, std::uint32_t message_expiry_s) {
  auto& s = *impl_;
  if (!valid_publish_topic(topic)) {
    return fail(error_code::invalid_argument, "publish topic must be non-empty, without wildcards or NUL");
  }
  if (qos != 0 && qos != 1) return fail(error_code::invalid_argument, "publish qos must be 0 or 1");
  {
    std::lock_guard lk(s.mu);
    if (s.broker_max_packet != 0 && payload.size() + topic.size() + publish_overhead_bytes > s.broker_max_packet) {
      ++s.st.dropped_too_large;
      return fail(error_code::too_large, "message of " + std::to_string(payload.size()) +
                                             " bytes exceeds the broker's maximum packet size " +
                                             std::to_string(s.broker_max_packet));
    }
    if (s.queue.size() >= s.opts.max_queued_publishes) {
      ++s.st.dropped_queue_full;
      return fail(error_code::unavailable,
                  "publish queue full (" + std::to_string(s.opts.max_queued_publishes) + " messages)");
    }
    impl::pending p;
    p.seq = s.next_seq++;
    p.topic = std::string(topic);
    p.payload.assign(payload.begin(), payload.end());
    p.qos = qos;
    p.retained = retained;
    p.expiry_s = message_expiry_s;
    s.queue.push_back(std::move(p));
  }
  s.wake.notify_all();
  return {};
}

bool mqtt_session::connected() const {
  std::lock_guard lk(impl_->mu);
  return impl_->is_connected;
}

session_stats mqtt_session::stats() const {
  std::lock_guard lk(impl_->mu);
  session_stats out = impl_->st;
  out.queued = impl_->queue.size();
  out.inflight = impl_->inflight.size();
  out.receive_maximum = impl_->receive_max;
  out.connected = impl_->is_connected;
  return out;
}

error mqtt_session::last_error() const {
  std::lock_guard lk(impl_->mu);
  return impl_->last_err;
}

bool mqtt_session::wait_connected(std::chrono::milliseconds timeout) const {
  std::unique_lock lk(impl_->mu);
  return impl_->changed.wait_for(lk, timeout, [&] { return impl_->is_connected; });
}

bool mqtt_session::wait_idle(std::chrono::milliseconds timeout) const {
  std::unique_lock lk(impl_->mu);
  return impl_->changed.wait_for(lk, timeout, [&] { return impl_->queue.empty() && impl_->inflight.empty(); });
}

}  // namespace ec::transport
