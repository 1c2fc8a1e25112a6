// The test aggregator itself, driven by a scripted agent built from the protocol library: it must be honest (refuse
// what a real aggregator refuses) or the agent tests that pass through it prove nothing.
#include <doctest/doctest.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "ec/protocol/digests.hpp"
#include "ec/protocol/envelope.hpp"
#include "ec/protocol/mbedtls_signer.hpp"
#include "ec/protocol/message_views.hpp"
#include "ec/transport/mqtt_session.hpp"
#include "integration_support.hpp"

using namespace ec::test;
namespace protocol = ec::protocol;
namespace transport = ec::transport;

namespace {

// An agent made of the protocol library and one MQTT session: signs what the test tells it to send.
struct scripted_agent {
  explicit scripted_agent(protocol::private_key key)
      : signer(std::move(key)), id(protocol::agent_id_of(signer.key().id())) {}
  // Stop the session first: its callback thread writes into inbox, which may be destroyed before it otherwise.
  ~scripted_agent() {
    if (session) session->stop();
  }
  scripted_agent(const scripted_agent&) = delete;
  scripted_agent& operator=(const scripted_agent&) = delete;

  void connect(const mosquitto_broker& broker, const protocol::topics& t) {
    transport::session_options o;
    o.url = broker.url();
    o.client_id = id;
    o.username = id;
    o.password = "pw-" + id;
    o.clean_start = true;
    o.connect_timeout_s = 5;
    o.log = [](transport::log_level, std::string_view) {};
    session = std::make_unique<transport::mqtt_session>(o);
    session->on_message([this](std::string_view topic, std::span<const std::uint8_t> payload) {
      std::lock_guard lk(mu);
      inbox.emplace_back(std::string(topic), protocol::bytes(payload.begin(), payload.end()));
      cv.notify_all();
    });
    session->set_subscriptions({{t.tasks(id), 1}, {t.receipts(id), 1}});
    REQUIRE(session->start().ok());
    REQUIRE(session->wait_connected(10s));
  }

  void send(const std::string& topic, protocol::message_kind kind, const protocol::bytes& body, bool retained = false) {
    auto wire = protocol::seal(kind, body, "ec/v1/test", signer);
    REQUIRE(wire.ok());
    REQUIRE(session->publish(topic, *wire, 1, retained).ok());
  }

  void publish(const std::string& topic, const protocol::bytes& wire) {
    REQUIRE(session->publish(topic, wire, 1).ok());
  }

  // Waits for the n-th message on a topic and returns it.
  protocol::bytes wait_message(const std::string& topic, std::size_t n = 1, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lk(mu);
    protocol::bytes out;
    cv.wait_for(lk, timeout, [&] {
      std::size_t k = 0;
      for (const auto& [t, p] : inbox) {
        if (t == topic && ++k == n) {
          out = p;
          return true;
        }
      }
      return false;
    });
    return out;
  }

  protocol::mbedtls_signer signer;
  std::string id;
  std::unique_ptr<transport::mqtt_session> session;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<std::string, protocol::bytes>> inbox;
};

struct scripted_region {
  scripted_region() : aggregator(region_fixture::aggregator_options()) {
    auto key = protocol::private_key::generate();
    REQUIRE(key.ok());
    agent = std::make_unique<scripted_agent>(std::move(key.value()));
    broker.add_user("aggregator", "pw-aggregator");
    broker.add_user(agent->id, "pw-" + agent->id);
    broker.start();
    aggregator.start(broker.url());
    agent->connect(broker, aggregator.topics());
    protocol::agent_hello h;
    h.agent_id = agent->id;
    h.public_key = agent->signer.key().spki_der();
    h.session_seq = 1;
    h.online = true;
    agent->send(aggregator.topics().hello(agent->id), protocol::message_kind::agent_hello, protocol::build(h), true);
    REQUIRE(aggregator.wait_hello(agent->id, 10s));
  }

  protocol::opened_envelope open_tasks(const protocol::bytes& wire) {
    protocol::static_trust_store trust(protocol::mbedtls_verifier_factory());
    trust.trust_aggregator(aggregator.own_signer().key());
    protocol::open_options o;
    o.expected_kind = protocol::message_kind::task_batch;
    o.prefix = "ec/v1/test";
    o.trust = &trust;
    o.topic_agent_id = agent->id;
    auto env = protocol::open(wire, o);
    REQUIRE_MESSAGE(env.ok(), env.err().what());
    return env.value();
  }

  void request(const std::string& request_id) {
    protocol::work_request r;
    r.agent_id = agent->id;
    r.request_id = request_id;
    r.free_slots = 1;
    r.max_tasks = 2;
    r.sent_at_ms = aggregator.now_ms();
    agent->send(aggregator.topics().work(), protocol::message_kind::work_request, protocol::build(r));
  }

  mosquitto_broker broker;
  test_aggregator aggregator;
  std::unique_ptr<scripted_agent> agent;
};

// A Result for a task as the agent received it.
protocol::task_result result_for(const protocol::task_view& t, const std::string& agent_id) {
  protocol::task_result r;
  r.task_id = std::string(t.task_id());
  r.attempt = t.attempt();
  r.agent_id = agent_id;
  const auto d = t.digest();
  r.task_digest.assign(d.begin(), d.end());
  r.outputs.push_back(protocol::tensor{"dst", protocol::dtype::u32, {4}, protocol::bytes(16, 9)});
  std::vector<protocol::tensor_ref> refs{r.outputs[0].ref()};
  const auto od = protocol::output_digest(refs);
  r.output_digest.assign(od.begin(), od.end());
  return r;
}

}  // namespace

TEST_CASE("test aggregator: long-polls a WorkRequest, answers when work is queued, repeats the same bytes") {
  scripted_region r;
  auto& agg = r.aggregator;
  const auto tasks_topic = agg.topics().tasks(r.agent->id);
  r.request("req-1");
  REQUIRE(agg.wait_work_request(r.agent->id, 1, 10s));
  CHECK(agg.counters().task_batches_sent == 0);  // held: no work yet
  agg.queue_tasks(r.agent->id, {small_task("a1"), small_task("a2"), small_task("a3"), small_task("a4")});
  const auto first = r.agent->wait_message(tasks_topic);
  REQUIRE_FALSE(first.empty());
  const auto env = r.open_tasks(first);
  const protocol::task_batch_view batch(env);
  CHECK(batch.in_reply_to() == "req-1");
  CHECK(batch.size() == 3);  // free_slots + max_tasks
  CHECK(agg.queued_tasks(r.agent->id) == 1);
  // The same request_id again: the same bytes, no new leases.
  r.request("req-1");
  const auto again = r.agent->wait_message(tasks_topic, 2);
  CHECK(again == first);
  CHECK(agg.counters().tasks_issued == 3);
  CHECK(agg.counters().work_requests_repeated == 1);
}

TEST_CASE("test aggregator: accepts a correct result once, refuses wrong digests and unknown tasks") {
  scripted_region r;
  auto& agg = r.aggregator;
  r.request("req-1");
  agg.queue_tasks(r.agent->id, {small_task("b1"), small_task("b2"), small_task("b3")});
  const auto wire = r.agent->wait_message(agg.topics().tasks(r.agent->id));
  REQUIRE_FALSE(wire.empty());
  const auto env = r.open_tasks(wire);
  const protocol::task_batch_view batch(env);
  REQUIRE(batch.size() == 3);

  auto good = result_for(batch.task(0), r.agent->id);
  auto bad_task_digest = result_for(batch.task(1), r.agent->id);
  bad_task_digest.task_digest[0] ^= 1;
  auto bad_output = result_for(batch.task(2), r.agent->id);
  bad_output.outputs[0].data[0] ^= 1;
  auto unknown = result_for(batch.task(0), r.agent->id);
  unknown.task_id = "never-issued";
  auto wrong_attempt = result_for(batch.task(0), r.agent->id);
  wrong_attempt.attempt = 7;
  protocol::result_batch rb;
  rb.agent_id = r.agent->id;
  for (const auto& x : {good, bad_task_digest, bad_output, unknown, wrong_attempt})
    rb.results.push_back(protocol::build(x));
  r.agent->send(agg.topics().results(), protocol::message_kind::result_batch, protocol::build(rb));
  const auto receipt_wire = r.agent->wait_message(agg.topics().receipts(r.agent->id));
  REQUIRE_FALSE(receipt_wire.empty());
  // The same batch again: the good result is a duplicate, not a second acceptance.
  r.agent->send(agg.topics().results(), protocol::message_kind::result_batch, protocol::build(rb));
  REQUIRE(agg.wait_receipts(2, 10s));

  const auto c = agg.counters();
  CHECK(c.results_accepted == 1);
  CHECK(c.results_duplicate == 1);
  CHECK(c.results_refused == 8);
  CHECK(agg.accepted().count({std::string(batch.task(0).task_id()), 0}) == 1);

  protocol::static_trust_store trust(protocol::mbedtls_verifier_factory());
  trust.trust_aggregator(agg.own_signer().key());
  protocol::open_options o;
  o.expected_kind = protocol::message_kind::receipt;
  o.prefix = "ec/v1/test";
  o.trust = &trust;
  o.topic_agent_id = r.agent->id;
  auto opened = protocol::open(receipt_wire, o);
  REQUIRE(opened.ok());
  const auto receipt = protocol::receipt_view(opened->body).decode();
  REQUIRE(receipt.entries.size() == 5);
  CHECK(receipt.entries[0].accepted);
  const auto d0 = protocol::result_digest(rb.results[0]);
  CHECK(receipt.entries[0].result_digest == protocol::bytes(d0.begin(), d0.end()));
  CHECK(receipt.entries[1].reason == "task_digest_mismatch");
  CHECK(receipt.entries[2].reason == "output_digest_mismatch");
  CHECK(receipt.entries[3].reason == "unknown_task");
  CHECK(receipt.entries[4].reason == "no_lease");
  for (std::size_t i = 1; i < 5; ++i) CHECK_FALSE(receipt.entries[i].accepted);
}

TEST_CASE("test aggregator: a ResultBatch from an unenrolled key or naming another agent is not accepted") {
  scripted_region r;
  auto& agg = r.aggregator;
  r.request("req-1");
  agg.queue_tasks(r.agent->id, {small_task("c1")});
  const auto wire = r.agent->wait_message(agg.topics().tasks(r.agent->id));  // the envelope's spans point into it
  const auto env = r.open_tasks(wire);
  const protocol::task_batch_view batch(env);
  REQUIRE(batch.size() == 1);
  // Signed by the aggregator's stranger key (never enrolled by a hello).
  protocol::result_batch rb;
  rb.agent_id = protocol::agent_id_of(agg.stranger_signer().key().id());
  auto res = result_for(batch.task(0), rb.agent_id);
  rb.results.push_back(protocol::build(res));
  r.agent->publish(agg.topics().results(),
                   agg.seal(protocol::message_kind::result_batch, protocol::build(rb), agg.stranger_signer()));
  // Signed by the enrolled agent but naming the stranger.
  r.agent->send(agg.topics().results(), protocol::message_kind::result_batch, protocol::build(rb));
  REQUIRE(agg.wait_until([](const aggregator_counters& c) { return c.result_batches >= 2; }, 10s));
  // A correct batch after them is accepted: the aggregator still works.
  protocol::result_batch ok;
  ok.agent_id = r.agent->id;
  ok.results.push_back(protocol::build(result_for(batch.task(0), r.agent->id)));
  r.agent->send(agg.topics().results(), protocol::message_kind::result_batch, protocol::build(ok));
  REQUIRE(agg.wait_results(1, 10s));
  CHECK(agg.counters().results_accepted == 1);
  CHECK(agg.results().size() == 1);
}
