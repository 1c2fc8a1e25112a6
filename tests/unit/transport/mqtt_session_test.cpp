// mqtt_session against a real mosquitto 2.0.11 on loopback, with the protocol's credentials and ACLs.
// Synchronisation is by condition variables with deadlines (inbox, session_events), never by sleeping.
#include "ec/transport/mqtt_session.hpp"

#include <doctest/doctest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "transport_test_support.hpp"

extern char** environ;

using namespace ec::test;
using ec::transport::mqtt_session;
using ec::transport::subscription;

namespace {

constexpr const char* prefix = "ec/v1/test";

std::string agent_topic(const std::string& agent, const std::string& leaf) {
  return std::string(prefix) + "/agents/" + agent + "/" + leaf;
}

// A broker with two agents and one aggregator.
struct region_fixture {
  explicit region_fixture(broker_options options = {}) : broker(std::move(options)) {
    broker.add_user("agent1", "pw-agent1");
    broker.add_user("agent2", "pw-agent2");
    broker.add_user("aggregator", "pw-aggregator");
    broker.start();
  }
  mosquitto_broker broker;
};

// Starts a session and waits for its first CONNACK.
void start_and_wait(mqtt_session& s, session_events& ev, std::size_t connects = 1) {
  REQUIRE(s.start().ok());
  REQUIRE(ev.wait_connects(connects));
}

}  // namespace

TEST_CASE("a session connects with its credentials and learns the broker's receive maximum") {
  region_fixture f;
  session_events ev;
  mqtt_session s(session_for(f.broker, "agent1", "pw-agent1", ev));
  s.on_connected(ev.connected_handler());
  start_and_wait(s, ev);
  const auto c = ev.connects().at(0);
  CHECK_FALSE(c.session_present);
  CHECK(c.receive_maximum == 20);
  const auto st = s.stats();
  CHECK(st.connected);
  CHECK(st.connects == 1);
  CHECK(st.receive_maximum == 20);
  s.stop();
  CHECK_FALSE(s.connected());
}

TEST_CASE("a session restarted within its expiry resumes the broker session (clean start false)") {
  region_fixture f;
  session_events ev;
  mqtt_session s(session_for(f.broker, "agent1", "pw-agent1", ev));
  s.on_connected(ev.connected_handler());
  start_and_wait(s, ev);
  s.stop();
  start_and_wait(s, ev, 2);
  CHECK_FALSE(ev.connects().at(0).session_present);
  CHECK(ev.connects().at(1).session_present);  // the Session Expiry Interval property reached the broker
}

TEST_CASE("a wrong password is a clear error and the loop keeps retrying with growing delay ceilings") {
  region_fixture f;
  session_events ev;
  auto o = session_for(f.broker, "agent1", "wrong", ev);
  o.reconnect_min_ms = 10;
  o.reconnect_max_ms = 80;
  mqtt_session s(o);
  std::vector<std::uint32_t> ceilings;
  // The sink runs on the session thread right after each failed attempt (not under the session's lock).
  ev.set_on_line([&](std::string_view line) {
    if (line.find("failed") != std::string_view::npos) ceilings.push_back(s.stats().backoff_ceiling_ms);
  });
  REQUIRE(s.start().ok());
  REQUIRE(ev.wait_log("failed", 6));
  const auto err = s.last_error();
  s.stop();
  ev.set_on_line(nullptr);
  CAPTURE(err.message);
  CHECK(err.code == ec::error_code::invalid_argument);
  CHECK(err.message.find("credentials") != std::string::npos);
  CHECK(s.stats().connect_failures >= 6);
  CHECK(s.stats().connects == 0);
  // Ceiling seen after failure k is the one chosen after failure k-1: 0 (none yet), 10, 20, 40, 80, 80...
  REQUIRE(ceilings.size() >= 6);
  CHECK(ceilings[1] == 10);
  CHECK(ceilings[2] == 20);
  CHECK(ceilings[3] == 40);
  CHECK(ceilings[4] == 80);
  CHECK(ceilings[5] == 80);
  CHECK(f.broker.log_text().find("not authorised") != std::string::npos);
}

TEST_CASE("QoS 1 round trip: agent to the aggregators' shared subscription and aggregator to the agent") {
  region_fixture f;
  session_events agent_ev, agg_ev;
  inbox agent_in, agg_in;
  mqtt_session agent(session_for(f.broker, "agent1", "pw-agent1", agent_ev));
  mqtt_session agg(session_for(f.broker, "aggregator", "pw-aggregator", agg_ev));
  agent.on_message(agent_in.handler());
  agent.on_connected(agent_ev.connected_handler());
  agent.set_subscriptions({{agent_topic("agent1", "tasks"), 1}});
  agg.on_message(agg_in.handler());
  agg.on_connected(agg_ev.connected_handler());
  agg.set_subscriptions({{std::string("$share/aggregators/") + prefix + "/work", 1}});
  start_and_wait(agg, agg_ev);
  start_and_wait(agent, agent_ev);

  REQUIRE(agent.publish(std::string(prefix) + "/work", bytes_of("work-request-1")).ok());
  REQUIRE(agg_in.wait_message(std::string(prefix) + "/work", "work-request-1"));
  REQUIRE(agg.publish(agent_topic("agent1", "tasks"), bytes_of("task-batch-1"), 1, false, 60).ok());
  REQUIRE(agent_in.wait_message(agent_topic("agent1", "tasks"), "task-batch-1"));
  CHECK(agent.wait_idle(5s));
  CHECK(agent.stats().acked == 1);
  CHECK(agent.stats().rejected == 0);
}

TEST_CASE("500 QoS 1 publishes with receive maximum 20 all arrive without the in-flight stall") {
  region_fixture f;
  session_events agent_ev, agg_ev;
  inbox agg_in;
  mqtt_session agent(session_for(f.broker, "agent1", "pw-agent1", agent_ev));
  mqtt_session agg(session_for(f.broker, "aggregator", "pw-aggregator", agg_ev));
  agent.on_connected(agent_ev.connected_handler());
  agg.on_message(agg_in.handler());
  agg.on_connected(agg_ev.connected_handler());
  agg.set_subscriptions({{std::string("$share/aggregators/") + prefix + "/results", 1}});
  start_and_wait(agg, agg_ev);
  start_and_wait(agent, agent_ev);

  constexpr int n = 500;
  const std::string payload(64, 'r');
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) REQUIRE(agent.publish(std::string(prefix) + "/results", bytes_of(payload)).ok());
  REQUIRE(agg_in.wait_count(n, 20s));
  REQUIRE(agent.wait_idle(10s));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double rate = n / secs;
  MESSAGE("QoS 1 loopback, receive maximum 20, 64-byte payloads: " << n << " messages in " << secs * 1000
                                                                   << " ms = " << rate << " msg/s");
  const auto st = agent.stats();
  CHECK(st.acked == n);
  CHECK(st.peak_inflight <= 20);
  CHECK(st.peak_inflight >= 2);  // the window is actually used
  CHECK(agg_in.snapshot().size() == n);
  // The Paho 1.3.12 stall sleeps up to 1 s per window overflow (22-327 msg/s): we must stay far above it.
  CHECK(rate > 500);
}

TEST_CASE("ACLs: an agent cannot read another agent's tasks or the aggregators' shared queue") {
  region_fixture f;
  session_events a1_ev, a2_ev, agg_ev;
  inbox a1_in, agg_in;
  mqtt_session a1(session_for(f.broker, "agent1", "pw-agent1", a1_ev));
  mqtt_session a2(session_for(f.broker, "agent2", "pw-agent2", a2_ev));
  mqtt_session agg(session_for(f.broker, "aggregator", "pw-aggregator", agg_ev));
  a1.on_message(a1_in.handler());
  a1.on_connected(a1_ev.connected_handler());
  a1.set_subscriptions({{agent_topic("agent2", "tasks"), 1},
                        {std::string("$share/aggregators/") + prefix + "/work", 1},
                        {std::string(prefix) + "/work", 1},
                        {agent_topic("agent1", "tasks"), 1}});
  a2.on_connected(a2_ev.connected_handler());
  agg.on_connected(agg_ev.connected_handler());
  agg.on_message(agg_in.handler());
  start_and_wait(a1, a1_ev);
  start_and_wait(a2, a2_ev);
  start_and_wait(agg, agg_ev);

  REQUIRE(agg.publish(agent_topic("agent2", "tasks"), bytes_of("for agent2 only")).ok());
  REQUIRE(agg.wait_idle(5s));
  REQUIRE(a2.publish(std::string(prefix) + "/work", bytes_of("agent2 work request")).ok());
  REQUIRE(a2.wait_idle(5s));
  // Mosquitto routes in order: once these were acknowledged, anything for agent1 was queued before this one.
  REQUIRE(agg.publish(agent_topic("agent1", "tasks"), bytes_of("for agent1")).ok());
  REQUIRE(a1_in.wait_message(agent_topic("agent1", "tasks"), "for agent1"));
  const auto got = a1_in.snapshot();
  CHECK(got.size() == 1);

  // Publishing outside its own topics is refused by the broker (PUBACK 0x87) and dropped, not retried.
  REQUIRE(a1.publish(agent_topic("agent2", "hello"), bytes_of("impersonation")).ok());
  REQUIRE(a1.publish(agent_topic("agent2", "tasks"), bytes_of("forged task")).ok());
  REQUIRE(a1.wait_idle(5s));
  CHECK(a1.stats().rejected == 2);
  CHECK(a1.stats().acked == 0);
}

// KNOWN HOLE (reported to the lead): mosquitto 2.0.11's acl_file grants every SUBSCRIBE (SUBACK 0x00) and checks
// `read` only when delivering. A shared subscription picks its member round robin *before* that check, so an
// agent that joins $share/aggregators/... receives nothing, but the messages routed to it are dropped: the
// aggregators lose about 1/(members) of the work requests. The fix is at the broker (a plugin that checks
// subscriptions, e.g. mosquitto's dynamic-security plugin with subscribe ACLs), not in the session. This test
// pins today's behaviour so that the change is noticed when the broker configuration is fixed.
TEST_CASE("known hole: an agent that joins $share/aggregators swallows work requests (reads checked at delivery)") {
  region_fixture f;
  session_events a1_ev, a2_ev, agg_ev;
  inbox a1_in, agg_in;
  mqtt_session a1(session_for(f.broker, "agent1", "pw-agent1", a1_ev));
  mqtt_session a2(session_for(f.broker, "agent2", "pw-agent2", a2_ev));
  mqtt_session agg(session_for(f.broker, "aggregator", "pw-aggregator", agg_ev));
  const std::string shared = std::string("$share/aggregators/") + prefix + "/work";
  a1.on_message(a1_in.handler());
  a1.on_connected(a1_ev.connected_handler());
  a1.set_subscriptions({{shared, 1}});
  a2.on_connected(a2_ev.connected_handler());
  agg.on_message(agg_in.handler());
  agg.on_connected(agg_ev.connected_handler());
  agg.set_subscriptions({{shared, 1}, {std::string(prefix) + "/agents/+/hello", 1}});
  start_and_wait(agg, agg_ev);
  start_and_wait(a1, a1_ev);
  start_and_wait(a2, a2_ev);
  constexpr std::size_t n = 20;
  for (std::size_t i = 0; i < n; ++i) {
    REQUIRE(a2.publish(std::string(prefix) + "/work", bytes_of(std::to_string(i))).ok());
  }
  // Same publisher, same subscriber connection: the hello arrives after every work request routed to agg.
  REQUIRE(a2.publish(agent_topic("agent2", "hello"), bytes_of("sync")).ok());
  REQUIRE(agg_in.wait_message(agent_topic("agent2", "hello"), "sync"));
  const auto work = agg_in.count_topic(std::string(prefix) + "/work");
  MESSAGE("aggregator received " << work << " of " << n << " work requests; the intruding agent "
                                 << a1_in.snapshot().size());
  CHECK(a1_in.snapshot().empty());  // the ACL does stop the agent from reading them...
  CHECK(work < n);                  // ...but they are lost to the aggregators (the hole)
}

TEST_CASE("an oversize incoming message is dropped and counted before the handler") {
  region_fixture f;
  session_events a_ev, agg_ev;
  inbox a_in;
  auto o = session_for(f.broker, "agent1", "pw-agent1", a_ev);
  o.max_payload_bytes = 1024;
  mqtt_session a(o);
  mqtt_session agg(session_for(f.broker, "aggregator", "pw-aggregator", agg_ev));
  a.on_message(a_in.handler());
  a.on_connected(a_ev.connected_handler());
  a.set_subscriptions({{agent_topic("agent1", "tasks"), 1}});
  agg.on_connected(agg_ev.connected_handler());
  start_and_wait(a, a_ev);
  start_and_wait(agg, agg_ev);

  REQUIRE(agg.publish(agent_topic("agent1", "tasks"), bytes_of(std::string(1025, 'x'))).ok());
  REQUIRE(agg.publish(agent_topic("agent1", "tasks"), bytes_of(std::string(1024, 'y'))).ok());
  REQUIRE(a_in.wait_count(1));
  REQUIRE(agg.wait_idle(5s));
  CHECK(a_in.snapshot().at(0).second.size() == 1024);
  CHECK(a.stats().dropped_oversize == 1);
  CHECK(a.stats().received == 1);
  CHECK(a_ev.wait_log("dropped oversize"));
}

TEST_CASE("a publish above the broker's maximum packet size is refused locally, the session stays up") {
  broker_options bo;
  bo.max_packet_size = 64 * 1024;
  region_fixture f(bo);
  session_events ev;
  mqtt_session s(session_for(f.broker, "agent1", "pw-agent1", ev));
  s.on_connected(ev.connected_handler());
  start_and_wait(s, ev);
  const auto r = s.publish(std::string(prefix) + "/results", bytes_of(std::string(100 * 1024, 'z')));
  CHECK(r.code() == ec::error_code::too_large);
  REQUIRE(s.publish(std::string(prefix) + "/results", bytes_of("small")).ok());
  CHECK(s.wait_idle(5s));
  CHECK(s.stats().acked == 1);
  CHECK(s.stats().disconnects == 0);
}

TEST_CASE("broker killed and restarted: the session reconnects, resubscribes and flushes its queue") {
  region_fixture f;
  session_events a_ev, agg_ev;
  inbox a_in, agg_in;
  auto o = session_for(f.broker, "agent1", "pw-agent1", a_ev);
  o.reconnect_min_ms = 1000;  // the production defaults: 1 s -> 60 s, full jitter
  o.reconnect_max_ms = 60000;
  o.reconnect_seed = 0;
  mqtt_session a(o);
  a.on_message(a_in.handler());
  a.on_connected(a_ev.connected_handler());
  a.on_connection_lost(a_ev.lost_handler());
  a.set_subscriptions({{agent_topic("agent1", "tasks"), 1}});
  mqtt_session agg(session_for(f.broker, "aggregator", "pw-aggregator", agg_ev));
  agg.on_message(agg_in.handler());
  agg.on_connected(agg_ev.connected_handler());
  agg.set_subscriptions({{std::string("$share/aggregators/") + prefix + "/results", 1}});
  start_and_wait(a, a_ev);
  start_and_wait(agg, agg_ev);

  f.broker.kill();
  REQUIRE(a_ev.wait_losses(1));
  CHECK_FALSE(a.connected());
  for (int i = 0; i < 5; ++i) REQUIRE(a.publish(std::string(prefix) + "/results", bytes_of("queued")).ok());
  CHECK(a.stats().queued == 5);

  f.broker.restart();
  const auto restarted = std::chrono::steady_clock::now();
  REQUIRE(a_ev.wait_connects(2, 70s));
  const auto c = a_ev.connects().at(1);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(c.at - restarted).count();
  MESSAGE("reconnect after broker restart (1 s -> 60 s full jitter): " << ms << " ms");
  CHECK_FALSE(c.session_present);  // persistence false: the broker forgot the session
  CHECK(a.wait_idle(10s));
  CHECK(a.stats().acked == 5);
  CHECK(a.stats().disconnects == 1);

  // Subscriptions were restored: the aggregator (reconnected too) reaches the agent again.
  REQUIRE(agg_ev.wait_connects(2, 10s));
  REQUIRE(agg.publish(agent_topic("agent1", "tasks"), bytes_of("after restart")).ok());
  CHECK(a_in.wait_message(agent_topic("agent1", "tasks"), "after restart"));
  REQUIRE(a.publish(std::string(prefix) + "/results", bytes_of("after restart")).ok());
  CHECK(agg_in.wait_message(std::string(prefix) + "/results", "after restart"));
}

TEST_CASE("messages handed over but unacknowledged when the broker dies are sent again after reconnect") {
  broker_options bo;
  bo.max_inflight_messages = 5;
  region_fixture f(bo);
  session_events a_ev;
  mqtt_session a(session_for(f.broker, "agent1", "pw-agent1", a_ev));
  a.on_connected(a_ev.connected_handler());
  a.on_connection_lost(a_ev.lost_handler());
  start_and_wait(a, a_ev);
  f.broker.kill();  // killed before the publishes: they queue, then some hand-over may race the loss
  REQUIRE(a_ev.wait_losses(1));
  for (int i = 0; i < 50; ++i) REQUIRE(a.publish(std::string(prefix) + "/results", bytes_of("r")).ok());
  f.broker.restart();
  REQUIRE(a_ev.wait_connects(2, 10s));
  REQUIRE(a.wait_idle(10s));
  const auto st = a.stats();
  CHECK(st.acked == 50);
  CHECK(st.peak_inflight <= 5);
}

TEST_CASE("stop() disconnects cleanly: the broker discards the will") {
  region_fixture f;
  session_events a_ev, agg_ev;
  inbox agg_in;
  auto o = session_for(f.broker, "agent1", "pw-agent1", a_ev);
  o.will.topic = agent_topic("agent1", "hello");
  o.will.payload = {'o', 'f', 'f'};
  o.will.retained = false;
  mqtt_session a(o);
  a.on_connected(a_ev.connected_handler());
  mqtt_session agg(session_for(f.broker, "aggregator", "pw-aggregator", agg_ev));
  agg.on_message(agg_in.handler());
  agg.on_connected(agg_ev.connected_handler());
  agg.set_subscriptions({{std::string(prefix) + "/agents/+/hello", 1}});
  start_and_wait(agg, agg_ev);
  start_and_wait(a, a_ev);
  a.stop();
  // Another agent's hello after the stop: the broker handled agent1's DISCONNECT before it.
  session_events b_ev;
  mqtt_session b(session_for(f.broker, "agent2", "pw-agent2", b_ev));
  b.on_connected(b_ev.connected_handler());
  start_and_wait(b, b_ev);
  REQUIRE(b.publish(agent_topic("agent2", "hello"), bytes_of("on")).ok());
  REQUIRE(agg_in.wait_message(agent_topic("agent2", "hello"), "on"));
  CHECK(agg_in.count_topic(agent_topic("agent1", "hello")) == 0);
}

// The will test runs a session in a child process (this binary, this test case) and SIGKILLs it, so the
// broker sees the socket close without DISCONNECT. Without EC_WILL_CHILD_URL the case does nothing.
TEST_CASE("helper: a session process for the will test (idle unless started by it)") {
  const char* url = std::getenv("EC_WILL_CHILD_URL");
  if (url == nullptr) return;
  session_events ev;
  ec::transport::session_options o;
  o.url = url;
  o.client_id = "agent1";
  o.username = "agent1";
  o.password = "pw-agent1";
  o.will.topic = agent_topic("agent1", "hello");
  o.will.payload = {'o', 'f', 'f', 'l', 'i', 'n', 'e'};
  o.will.retained = true;
  o.log = ev.sink();
  mqtt_session s(o);
  s.on_connected(ev.connected_handler());
  REQUIRE(s.start().ok());
  REQUIRE(ev.wait_connects(1));
  REQUIRE(s.publish(agent_topic("agent1", "hello"), bytes_of("online"), 1, true).ok());
  REQUIRE(s.wait_idle(10s));
  for (;;) ::pause();  // until the parent's SIGKILL
}

TEST_CASE("the Last Will is delivered when the client process dies") {
  region_fixture f;
  session_events agg_ev;
  inbox agg_in;
  mqtt_session agg(session_for(f.broker, "aggregator", "pw-aggregator", agg_ev));
  agg.on_message(agg_in.handler());
  agg.on_connected(agg_ev.connected_handler());
  agg.set_subscriptions({{std::string(prefix) + "/agents/+/hello", 1}});
  start_and_wait(agg, agg_ev);

  const std::string env_url = "EC_WILL_CHILD_URL=" + f.broker.url();
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
  envp.push_back(const_cast<char*>(env_url.c_str()));
  envp.push_back(nullptr);
  std::string self = "/proc/self/exe";
  std::string filter = "--test-case=helper: a session process for the will test*";
  char* argv[] = {self.data(), filter.data(), nullptr};
  pid_t child = -1;
  REQUIRE(posix_spawn(&child, self.c_str(), nullptr, nullptr, argv, envp.data()) == 0);
  const bool online = agg_in.wait_message(agent_topic("agent1", "hello"), "online");
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(online);
  CHECK(agg_in.wait_message(agent_topic("agent1", "hello"), "offline"));
}

TEST_CASE("mqtts with client certificates: the CN is the username, a client without a certificate is refused") {
  mosquitto_broker probe_dir;  // only for a temp folder of its own
  const auto pki = make_test_pki(probe_dir.dir() / "pki", {"agent1"});
  broker_options bo;
  bo.tls = broker_tls{pki.ca_cert.string(), pki.server_cert.string(), pki.server_key.string(), true, true};
  mosquitto_broker broker(bo);
  broker.start();

  session_events ev;
  ec::transport::session_options o;
  o.url = broker.url();
  o.client_id = "agent1";
  o.tls.ca_file = pki.ca_cert.string();
  o.tls.cert_file = pki.client("agent1").first.string();
  o.tls.key_file = pki.client("agent1").second.string();
  o.reconnect_min_ms = 20;
  o.reconnect_max_ms = 200;
  o.log = ev.sink();
  mqtt_session s(o);
  s.on_connected(ev.connected_handler());
  start_and_wait(s, ev);
  // The ACL's %u is the certificate's CN: the agent may publish its own hello, not another's.
  REQUIRE(s.publish(agent_topic("agent1", "hello"), bytes_of("online")).ok());
  REQUIRE(s.publish(agent_topic("agent2", "hello"), bytes_of("impersonation")).ok());
  REQUIRE(s.wait_idle(5s));
  CHECK(s.stats().acked == 1);
  CHECK(s.stats().rejected == 1);
  s.stop();

  session_events ev2;
  auto no_cert = o;
  no_cert.client_id = "nocert";
  no_cert.tls.cert_file.clear();
  no_cert.tls.key_file.clear();
  no_cert.log = ev2.sink();
  mqtt_session refused(no_cert);
  REQUIRE(refused.start().ok());
  REQUIRE(ev2.wait_log("failed", 2));
  CHECK_FALSE(refused.connected());
  CHECK(refused.stats().connects == 0);
  CHECK(refused.last_error().code != ec::error_code::ok);
}
