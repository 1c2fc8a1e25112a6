// The broker is part of the security model (protocol.md, "Topics and ACLs"): with an agent's own credentials
// nobody can speak for another agent or read another agent's work. Checked with ec_mqtt directly, using the
// user name and password the agent process was registered with.
#include <doctest/doctest.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "ec/transport/mqtt_session.hpp"
#include "integration_support.hpp"

using namespace ec::test;
namespace protocol = ec::protocol;
namespace transport = ec::transport;

namespace {

// A session with an agent's credentials that records what it receives and logs.
struct probe_session {
  probe_session(const mosquitto_broker& broker, const std::string& user, const std::string& password,
                std::vector<transport::subscription> subs) {
    transport::session_options o;
    o.url = broker.url();
    o.client_id = user + "-probe";
    o.username = user;
    o.password = password;
    o.reconnect_min_ms = 50;
    o.reconnect_max_ms = 200;
    o.connect_timeout_s = 5;
    o.clean_start = true;
    o.log = [this](transport::log_level, std::string_view line) {
      std::lock_guard lk(mu);
      lines.emplace_back(line);
      cv.notify_all();
    };
    session = std::make_unique<transport::mqtt_session>(o);
    session->on_message([this](std::string_view topic, std::span<const std::uint8_t>) {
      std::lock_guard lk(mu);
      received.emplace_back(topic);
      cv.notify_all();
    });
    session->on_connected([this](bool, std::uint16_t) {
      std::lock_guard lk(mu);
      ++connects;
      cv.notify_all();
    });
    session->set_subscriptions(std::move(subs));
    REQUIRE(session->start().ok());
    REQUIRE(session->wait_connected(10s));
    std::unique_lock lk(mu);
    REQUIRE(cv.wait_for(lk, 10s, [&] { return connects > 0; }));  // subscriptions are made before on_connected
  }

  bool wait_received(const std::string& topic, std::chrono::milliseconds timeout) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, timeout, [&] {
      for (const auto& t : received) {
        if (t == topic) return true;
      }
      return false;
    });
  }

  std::size_t count(const std::string& topic) {
    std::lock_guard lk(mu);
    std::size_t n = 0;
    for (const auto& t : received) n += t == topic ? 1 : 0;
    return n;
  }

  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> received;
  std::vector<std::string> lines;
  int connects = 0;
  std::unique_ptr<transport::mqtt_session> session;
};

}  // namespace

TEST_CASE("an agent's credentials cannot publish another agent's hello") {
  region_fixture f(2);
  INFO(f.diagnostics());
  f.start_agent(1);  // B, whose retained hello A will try to overwrite
  const auto b_before = f.aggregator.agent(f.id(1));
  REQUIRE(b_before.has_value());
  probe_session a(f.broker, f.id(0), f.agent(0).password(), {});
  const auto topic_b = f.aggregator.topics().hello(f.id(1));
  const protocol::bytes forged = {'f', 'o', 'r', 'g', 'e', 'd'};
  REQUIRE(a.session->publish(topic_b, forged).ok());
  REQUIRE(a.session->wait_idle(10s));
  const auto st = a.session->stats();
  CHECK(st.rejected == 1);  // PUBACK 0x87 not authorized
  CHECK(st.acked == 0);
  // The positive control: A may publish on P/work (the aggregator then rejects the junk as unsigned).
  const auto rejected_before = f.aggregator.counters().messages_rejected;
  REQUIRE(a.session->publish(f.aggregator.topics().work(), forged).ok());
  REQUIRE(a.session->wait_idle(10s));
  CHECK(a.session->stats().acked == 1);
  CHECK(f.aggregator.wait_until([&](const aggregator_counters& c) { return c.messages_rejected > rejected_before; },
                                10s));
  // B's hello was never replaced.
  const auto b_after = f.aggregator.agent(f.id(1));
  CHECK(b_after->hellos == b_before->hellos);
  CHECK(b_after->online);
}

TEST_CASE("an agent's credentials cannot subscribe to another agent's tasks or to the aggregators' share") {
  region_fixture f(2);
  INFO(f.diagnostics());
  const auto& t = f.aggregator.topics();
  const auto own_tasks = t.tasks(f.id(0));
  const auto other_tasks = t.tasks(f.id(1));
  const auto other_receipts = t.receipts(f.id(1));
  probe_session a(f.broker, f.id(0), f.agent(0).password(),
                  {{own_tasks, 1}, {other_tasks, 1}, {other_receipts, 1}, {t.shared_results(), 1}, {t.results(), 1}});
  // Mosquitto 2.0 grants the SUBACK and applies the read ACL to each delivery, so the proof is what arrives.
  // Publish to each; only the agent's own topic reaches it. The own-topic message is published last, so once it
  // arrived the others (same publisher, same broker, QoS 1, in order) would have too.
  const protocol::bytes payload = {'x'};
  f.aggregator.publish_raw(other_tasks, payload);
  f.aggregator.publish_raw(other_receipts, payload);
  probe_session b(f.broker, f.id(1), f.agent(1).password(), {});
  REQUIRE(b.session->publish(t.results(), payload).ok());
  REQUIRE(b.session->wait_idle(10s));
  f.aggregator.publish_raw(own_tasks, payload);
  REQUIRE(a.wait_received(own_tasks, 10s));
  CHECK(a.count(other_tasks) == 0);
  CHECK(a.count(other_receipts) == 0);
  CHECK(a.count(t.results()) == 0);
  CHECK(a.count(t.shared_results()) == 0);
}
