// mosquitto's own limit, measured through the broker the agent uses: QoS 1 round trips between two ec_mqtt
// sessions. No user may both publish and read one topic under the protocol's ACL, so the round trip takes the
// path a task and its result take: aggregator user -> P/agents/<echo>/tasks -> echo user -> P/results ->
// aggregator user. Run it while no test aggregator is connected: it also reads P/results (shared subscription)
// and would share the deliveries.
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>

#include "agent_bench.hpp"
#include "ec/protocol/topics.hpp"
#include "ec/transport/mqtt_session.hpp"

namespace ec::bench {
namespace {

constexpr std::size_t payload_bytes = 64;  // a small message: what the broker costs per message, not per byte

transport::session_options session_for(const echo_endpoints& w, const std::string& user, const std::string& pw,
                                       const std::string& client_id) {
  transport::session_options o;
  o.url = w.url;
  o.client_id = client_id;
  o.username = user;
  o.password = pw;
  o.clean_start = true;
  o.session_expiry_s = 0;
  o.reconnect_min_ms = 50;
  o.reconnect_max_ms = 500;
  o.log = [](transport::log_level, std::string_view) {};  // quiet: the tables are the output
  return o;
}

// Arrival times of echoed sequence numbers, filled on A's callback thread.
struct arrivals {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<steady::time_point> at;
  std::size_t count = 0;

  void record(std::span<const std::uint8_t> payload) {
    std::uint64_t seq = 0;
    if (payload.size() < sizeof seq) return;
    std::memcpy(&seq, payload.data(), sizeof seq);
    const auto now = steady::now();
    std::lock_guard lk(mu);
    if (seq < at.size() && at[seq] == steady::time_point{}) {
      at[seq] = now;
      ++count;
    }
    cv.notify_all();
  }
  void reset(std::size_t n) {
    std::lock_guard lk(mu);
    at.assign(n, {});
    count = 0;
  }
  // Waits until at least n arrived; false after the timeout.
  bool wait_count(std::size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, timeout, [&] { return count >= n; });
  }
};

class echo_rig {
 public:
  explicit echo_rig(const echo_endpoints& w)
      : topics_(protocol::topics::for_region(w.region).value()),
        a_(session_for(w, w.aggregator_user, w.aggregator_password, "bench-rtt-a")),
        b_(session_for(w, w.echo_user, w.echo_password, w.echo_user)) {
    const std::string results = topics_.results();
    b_.on_message([this, results](std::string_view, std::span<const std::uint8_t> p) { (void)b_.publish(results, p); });
    a_.on_message([this](std::string_view, std::span<const std::uint8_t> p) { got_.record(p); });
    b_.set_subscriptions({{topics_.tasks(w.echo_user), 1}});
    a_.set_subscriptions({{results, 1}});
    tasks_topic_ = topics_.tasks(w.echo_user);
  }
  ~echo_rig() {
    a_.stop();
    b_.stop();
  }
  echo_rig(const echo_rig&) = delete;
  echo_rig& operator=(const echo_rig&) = delete;

  std::string connect() {
    if (auto r = a_.start(); !r) return "session A: " + r.err().what();
    if (auto r = b_.start(); !r) return "session B: " + r.err().what();
    if (!a_.wait_connected(std::chrono::seconds(10)) || !b_.wait_connected(std::chrono::seconds(10)))
      return "no CONNACK: " + a_.last_error().what() + " / " + b_.last_error().what();
    return {};
  }
  // Subscriptions are restored by the session after its CONNACK; one round trip that arrives proves both are in
  // place (retried, since a message published before B's SUBACK is simply not delivered).
  bool prime() {
    for (int i = 0; i < 50; ++i) {
      got_.reset(1);
      if (!send(0)) return false;
      if (got_.wait_count(1, std::chrono::milliseconds(100))) return true;
    }
    return false;
  }
  bool send(std::uint64_t seq) {
    std::uint8_t p[payload_bytes] = {};
    std::memcpy(p, &seq, sizeof seq);
    return static_cast<bool>(a_.publish(tasks_topic_, p));
  }
  std::uint16_t receive_maximum() const { return a_.stats().receive_maximum; }
  arrivals& got() { return got_; }

 private:
  protocol::topics topics_;
  transport::mqtt_session a_;
  transport::mqtt_session b_;
  std::string tasks_topic_;
  arrivals got_;
};

// One round trip outstanding at a time: the latency of QoS 1 through the broker and both clients.
bool measure_rtt(echo_rig& rig, std::size_t n, percentiles& out) {
  rig.got().reset(n);
  std::vector<double> us;
  us.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto t0 = steady::now();
    if (!rig.send(i) || !rig.got().wait_count(i + 1, std::chrono::seconds(5))) return false;
    std::lock_guard lk(rig.got().mu);
    us.push_back(std::chrono::duration<double, std::micro>(rig.got().at[i] - t0).count());
  }
  out = percentiles_of(std::move(us));
  return true;
}

// `window` round trips outstanding: how many the broker and both sessions complete per second.
bool measure_rate(echo_rig& rig, std::size_t n, std::size_t window, double& per_s) {
  rig.got().reset(n);
  const auto t0 = steady::now();
  for (std::size_t i = 0; i < n; ++i) {
    if (i >= window && !rig.got().wait_count(i + 1 - window, std::chrono::seconds(10))) return false;
    if (!rig.send(i)) return false;
  }
  if (!rig.got().wait_count(n, std::chrono::seconds(30))) return false;
  per_s = static_cast<double>(n) / std::chrono::duration<double>(steady::now() - t0).count();
  return true;
}

}  // namespace

mqtt_limit measure_mqtt_limit(const echo_endpoints& where, const bench_options& o) {
  mqtt_limit m;
  m.window = o.rate_window;
  m.payload_bytes = payload_bytes;
  echo_rig rig(where);
  if (m.error = rig.connect(); !m.error.empty()) return m;
  if (!rig.prime()) {
    m.error = "no echo arrived (ACL or subscription)";
    return m;
  }
  m.receive_maximum = rig.receive_maximum();
  if (!measure_rtt(rig, o.rtt_messages, m.rtt_us)) {
    m.error = "round trip timed out";
    return m;
  }
  if (!measure_rate(rig, o.rate_messages, o.rate_window, m.round_trips_per_s)) {
    m.error = "windowed round trips timed out";
    return m;
  }
  m.ok = true;
  return m;
}

}  // namespace ec::bench
