// Round trips: every message kind built, sealed, opened and decoded back to the value it started as.
#include <doctest/doctest.h>

#include "ec/protocol/digests.hpp"
#include "ec/protocol/message_views.hpp"
#include "test_keys.hpp"

using namespace ec::protocol;
using namespace ec::test;

namespace {

opened_envelope seal_and_open(message_kind kind, const bytes& body, bytes& wire) {
  auto sealed = seal(kind, body, prefix, sender_of(kind));
  REQUIRE_MESSAGE(sealed.ok(), sealed.err().what());
  wire = std::move(sealed).value();
  auto opened = open(wire, receiver_options(kind));
  REQUIRE_MESSAGE(opened.ok(), opened.err().what());
  CHECK(opened->kind == kind);
  CHECK(opened->signer == sender_of(kind).key().id());
  CHECK(std::equal(opened->body.begin(), opened->body.end(), body.begin(), body.end()));
  return std::move(opened).value();
}

}  // namespace

TEST_CASE("an AgentHello survives build, seal, open and decode unchanged") {
  auto m = sample_hello();
  bytes wire;
  auto env = seal_and_open(message_kind::agent_hello, build(m), wire);
  CHECK(agent_hello_view(env.body).decode() == m);
  CHECK(agent_hello_view(env.body).session_seq() == 7);
}

TEST_CASE("an AgentHello's out-of-service resource groups survive the round trip, and no list decodes as empty") {
  auto m = sample_hello();
  m.out_of_service = {"opencl:0", "vulkan:1"};
  bytes wire;
  auto env = seal_and_open(message_kind::agent_hello, build(m), wire);
  CHECK(agent_hello_view(env.body).decode() == m);
  CHECK(agent_hello_view(env.body).decode().out_of_service == std::vector<std::string>{"opencl:0", "vulkan:1"});

  m.out_of_service.clear();
  env = seal_and_open(message_kind::agent_hello, build(m), wire);
  CHECK(agent_hello_view(env.body).decode().out_of_service.empty());
}

TEST_CASE("a WorkRequest survives build, seal, open and decode unchanged") {
  auto m = sample_work_request();
  bytes wire;
  auto env = seal_and_open(message_kind::work_request, build(m), wire);
  CHECK(work_request_view(env.body).decode() == m);
}

TEST_CASE("a TaskBatch and each of its Tasks survive the round trip, with task digests over the blob bytes") {
  auto m = sample_task_batch(3);
  bytes wire;
  auto env = seal_and_open(message_kind::task_batch, build(m), wire);
  task_batch_view view(env);
  REQUIRE(view.size() == 3);
  CHECK(view.decode() == m);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(view.task(i).decode() == sample_task("t" + std::to_string(i)));
    CHECK(view.task(i).digest() == task_digest(m.tasks[i]));
    CHECK(view.task(i).inputs().size() == 2);
  }
}

TEST_CASE("a ResultBatch and each of its Results survive the round trip") {
  auto m = sample_result_batch(2);
  bytes wire;
  auto env = seal_and_open(message_kind::result_batch, build(m), wire);
  result_batch_view view(env);
  REQUIRE(view.size() == 2);
  CHECK(view.decode() == m);
  CHECK(view.result(1).decode() == sample_result("t1"));
  CHECK(view.result(0).digest() == result_digest(m.results[0]));
}

TEST_CASE("a Result's measured energy survives the round trip and stays absent when unknown") {
  auto measured = sample_result("t-energy");
  measured.energy_uj = 1'234'567;
  const auto blob = build(measured);
  CHECK(result_view(blob).decode().energy_uj == std::optional<std::uint64_t>(1'234'567));
  auto zero = sample_result("t-zero");
  zero.energy_uj = 0;  // measured as nothing: not the same as unknown
  CHECK(result_view(build(zero)).decode().energy_uj == std::optional<std::uint64_t>(0));
  CHECK_FALSE(result_view(build(sample_result("t-unknown"))).decode().energy_uj.has_value());
}

TEST_CASE("a Receipt survives the round trip") {
  auto m = sample_receipt();
  bytes wire;
  auto env = seal_and_open(message_kind::receipt, build(m), wire);
  CHECK(receipt_view(env.body).decode() == m);
}

TEST_CASE("a Control survives the round trip") {
  auto m = sample_control();
  bytes wire;
  auto env = seal_and_open(message_kind::control, build(m), wire);
  CHECK(control_view(env.body).decode() == m);
  CHECK(control_view(env.body).desired_state() == agent_state::drain);
}

TEST_CASE("a region-wide Control with an empty agent_id opens on P/control") {
  auto m = sample_control();
  m.agent_id.clear();
  auto wire = seal(message_kind::control, build(m), prefix, aggregator_signer());
  REQUIRE(wire.ok());
  auto opt = receiver_options(message_kind::control);
  opt.topic_agent_id = "";
  auto env = open(*wire, opt);
  REQUIRE_MESSAGE(env.ok(), env.err().what());
  CHECK(control_view(env->body).decode() == m);
}

TEST_CASE("an empty TaskBatch (long-poll answer with retry_after) round trips") {
  task_batch m{agent_id(), "req-9", {}, 15000, 5};
  bytes wire;
  auto env = seal_and_open(message_kind::task_batch, build(m), wire);
  task_batch_view view(env);
  CHECK(view.size() == 0);
  CHECK(view.retry_after_ms() == 15000);
  CHECK(view.decode() == m);
}
