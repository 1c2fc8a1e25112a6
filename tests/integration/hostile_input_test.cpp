// Hostile and broken input reaching a real agent on its tasks topic: every forged message is dropped without a
// crash and without a result, and the agent keeps working (a valid task after them still completes).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "ec/protocol/digests.hpp"
#include "ec/protocol/envelope.hpp"
#include "integration_support.hpp"

using namespace ec::test;
namespace protocol = ec::protocol;

namespace {

// Publishes each payload on the agent's tasks topic, then proves the agent alive with a valid task, and checks
// that none of the forged task ids got any result and that the agent process is still running.
void expect_dropped(region_fixture& f, const std::vector<protocol::bytes>& payloads,
                    const std::vector<std::string>& forged_ids, const std::string& probe_id) {
  const auto topic = f.aggregator.topics().tasks(f.id());
  for (const auto& p : payloads) f.aggregator.publish_raw(topic, p);
  CHECK_MESSAGE(agent_still_works(f, probe_id), "a valid task after the forged messages did not complete");
  for (const auto& id : forged_ids) {
    CHECK_MESSAGE(f.aggregator.results_for(id).empty(), "the agent answered forged task " << id);
  }
  CHECK_MESSAGE(f.agent().running(), "the agent exited: status " << f.agent().exit_status().value_or(-1));
}

std::string other_agent_id() { return "0123456789abcdef0123456789abcdef"; }

}  // namespace

TEST_CASE("a TaskBatch with a bit flipped anywhere (body, blob, key_id, signature) is dropped") {
  region_fixture f;
  INFO(f.diagnostics());
  f.start_agent();
  std::vector<protocol::bytes> payloads;
  std::vector<std::string> ids;
  // One signed batch per flip position so that a flip that lands in a task_id cannot hide behind another id.
  const std::vector<double> positions = {0.1, 0.3, 0.5, 0.7, 0.9, 0.97, 0.995};
  for (std::size_t i = 0; i < positions.size(); ++i) {
    const auto id = "tampered-" + std::to_string(i);
    auto wire = f.aggregator.sign_task_batch(f.id(), {small_task(id)}, f.aggregator.own_signer());
    const auto at = static_cast<std::size_t>(positions[i] * static_cast<double>(wire.size()));
    wire.at(at) ^= 0x10;
    payloads.push_back(std::move(wire));
    ids.push_back(id);
  }
  expect_dropped(f, payloads, ids, "tampered-probe");
}

TEST_CASE("unsigned, garbage, empty and wrong-kind payloads on the tasks topic are dropped") {
  region_fixture f;
  INFO(f.diagnostics());
  f.start_agent();
  auto& agg = f.aggregator;
  // A TaskBatch body without an envelope.
  protocol::task_batch b;
  b.agent_id = f.id();
  auto t = small_task("unsigned-1");
  agg.fill_task_defaults(f.id(), t);
  b.tasks.push_back(protocol::build(t));
  b.sent_at_ms = agg.now_ms();
  const auto bare = protocol::build(b);
  // The same body sealed as a Receipt (wrong kind for the topic), by the trusted key.
  const auto wrong_kind = agg.seal(protocol::message_kind::receipt, bare, agg.own_signer());
  // Random bytes, an "ECW1"-looking prefix with junk, and an empty payload.
  protocol::bytes garbage(777);
  for (std::size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<std::uint8_t>((i * 131 + 7) ^ (i >> 3));
  protocol::bytes ecw1 = {0x0c, 0, 0, 0, 'E', 'C', 'W', '1', 0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4};
  expect_dropped(f, {bare, wrong_kind, garbage, ecw1, protocol::bytes{}}, {"unsigned-1"}, "garbage-probe");
}

TEST_CASE("a TaskBatch signed by an untrusted key is dropped") {
  region_fixture f;
  INFO(f.diagnostics());
  f.start_agent();
  const auto wire = f.aggregator.sign_task_batch(f.id(), {small_task("untrusted-1")}, f.aggregator.stranger_signer());
  expect_dropped(f, {wire}, {"untrusted-1"}, "untrusted-probe");
}

TEST_CASE("misaddressed: a batch naming agent B on A's topic, and a Task naming B in A's batch, are dropped") {
  region_fixture f;
  INFO(f.diagnostics());
  f.start_agent();
  auto& agg = f.aggregator;
  // The batch says B, the topic says A.
  const auto to_b = agg.sign_task_batch(other_agent_id(), {small_task("misaddressed-batch")}, agg.own_signer());
  // The batch says A, its Task says B.
  auto t = small_task("misaddressed-task");
  t.agent_id = other_agent_id();
  const auto task_to_b = agg.sign_task_batch(f.id(), {t}, agg.own_signer());
  expect_dropped(f, {to_b, task_to_b}, {"misaddressed-batch", "misaddressed-task"}, "misaddressed-probe");
}

TEST_CASE("a replayed TaskBatch (same bytes twice) runs its task once") {
  region_fixture f;
  INFO(f.diagnostics());
  f.start_agent();
  auto& agg = f.aggregator;
  const auto wire = agg.sign_task_batch(f.id(), {small_task("replay-1")}, agg.own_signer());
  const auto topic = agg.topics().tasks(f.id());
  agg.publish_raw(topic, wire);
  agg.publish_raw(topic, wire);
  REQUIRE(agg.wait_result_for("replay-1", result_timeout));
  REQUIRE(agent_still_works(f, "replay-probe"));
  // Republishes of a spooled result carry the same bytes; a second execution would make a new Result blob.
  CHECK(distinct_result_blobs(agg, "replay-1") == 1);
  CHECK(agg.accepted().count({"replay-1", 0}) == 1);
}

TEST_CASE("a TaskBatch replayed after an agent restart is not run again (the replay guard is persisted)") {
  region_fixture f;
  INFO(f.diagnostics());
  f.start_agent();
  auto& agg = f.aggregator;
  const auto wire = agg.sign_task_batch(f.id(), {small_task("replay-restart-1")}, agg.own_signer());
  const auto topic = agg.topics().tasks(f.id());
  agg.publish_raw(topic, wire);
  REQUIRE(agg.wait_result_for("replay-restart-1", result_timeout));
  REQUIRE(agg.wait_receipts(1, 10s));
  CHECK(f.agent().terminate() == 0);
  f.start_agent();
  agg.publish_raw(topic, wire);
  REQUIRE(agent_still_works(f, "replay-restart-probe"));
  CHECK(distinct_result_blobs(agg, "replay-restart-1") == 1);
}

TEST_CASE("a task expired on the aggregator's clock is answered with a signed Expired result") {
  region_fixture f;
  INFO(f.diagnostics());
  f.start_agent();
  auto& agg = f.aggregator;
  REQUIRE(agent_still_works(f, "expired-warmup"));
  // The aggregator's clock runs two hours ahead of this machine's. The task's window ended a minute ago on the
  // aggregator's clock, but lies in the future on the agent's own clock: only the aggregator's clock expires it.
  agg.set_clock_offset(2h);
  auto t = small_task("expired-1");
  t.issued_at_ms = agg.now_ms() - 10 * 60 * 1000;
  t.expires_at_ms = agg.now_ms() - 60 * 1000;
  agg.queue_tasks(f.id(), {t});
  REQUIRE(agg.wait_result_for("expired-1", result_timeout));
  const auto r = agg.accepted().at({"expired-1", 0}).result;
  CHECK_MESSAGE(r.status == protocol::result_status::expired,
                "status " << protocol::to_string(r.status) << " error '" << r.error << "'");
  CHECK(r.outputs.empty());
  CHECK_FALSE(r.error.empty());
  // A task valid on the aggregator's clock still runs.
  agg.queue_tasks(f.id(), {small_task("expired-probe")});
  REQUIRE(agg.wait_result_for("expired-probe", result_timeout));
  CHECK(agg.accepted().at({"expired-probe", 0}).result.status == protocol::result_status::ok);
}

TEST_CASE("a payload above the 1 MiB cap is dropped unread") {
  region_fixture f;
  INFO(f.diagnostics());
  f.start_agent();
  auto& agg = f.aggregator;
  // A copy task whose input alone is 1.25 MiB: validly signed, but above the agent's payload cap (the test
  // broker's max_packet_size is 2 MiB, so it reaches the agent).
  const auto* spec = ec::kernels::find_kernel("copy");
  REQUIRE(spec != nullptr);
  auto kc = make_kernel_case(*spec, "oversize-1", {1310720 / 4});
  const auto wire = agg.sign_task_batch(f.id(), {kc.task}, agg.own_signer());
  REQUIRE(wire.size() > 1024 * 1024);
  REQUIRE(wire.size() < 2 * 1024 * 1024);
  expect_dropped(f, {wire}, {"oversize-1"}, "oversize-probe");
}

TEST_CASE("malformed FlatBuffers inside a validly signed envelope are dropped") {
  region_fixture f;
  INFO(f.diagnostics());
  f.start_agent();
  auto& agg = f.aggregator;
  std::vector<protocol::bytes> payloads;
  // 1. A signed body that is not a TaskBatch at all.
  protocol::bytes junk(300);
  for (std::size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<std::uint8_t>(i * 37 + 11);
  payloads.push_back(agg.seal(protocol::message_kind::task_batch, junk, agg.own_signer()));
  // 2. A TaskBatch whose Task blob is junk.
  payloads.push_back(agg.sign_task_batch_blobs(f.id(), {junk}, agg.own_signer()));
  // 3. A TaskBatch whose Task blob is truncated.
  auto t = small_task("malformed-truncated");
  agg.fill_task_defaults(f.id(), t);
  auto blob = protocol::build(t);
  blob.resize(blob.size() / 2);
  payloads.push_back(agg.sign_task_batch_blobs(f.id(), {blob}, agg.own_signer()));
  // 4. A Task blob whose root offset points past its end.
  auto t2 = small_task("malformed-offset");
  agg.fill_task_defaults(f.id(), t2);
  auto blob2 = protocol::build(t2);
  blob2[0] = 0xf0;
  blob2[1] = 0xff;
  payloads.push_back(agg.sign_task_batch_blobs(f.id(), {blob2}, agg.own_signer()));
  // 5. A Result blob (ECR1) where a Task (ECT1) belongs.
  protocol::task_result res;
  res.task_id = "malformed-kind";
  res.agent_id = f.id();
  res.task_digest = protocol::bytes(32, 1);
  payloads.push_back(agg.sign_task_batch_blobs(f.id(), {protocol::build(res)}, agg.own_signer()));
  // 6. A Task whose input tensor's data does not match dtype x shape.
  auto t3 = small_task("malformed-tensor");
  agg.fill_task_defaults(f.id(), t3);
  REQUIRE_FALSE(t3.inputs.empty());
  t3.inputs[0].shape = {t3.inputs[0].shape.empty() ? 1u : t3.inputs[0].shape[0] + 1000};
  payloads.push_back(agg.sign_task_batch_blobs(f.id(), {protocol::build(t3)}, agg.own_signer()));
  // 7. A truncated envelope.
  auto whole = agg.sign_task_batch(f.id(), {small_task("malformed-envelope")}, agg.own_signer());
  whole.resize(whole.size() - 40);
  payloads.push_back(whole);
  expect_dropped(
      f, payloads,
      {"malformed-truncated", "malformed-offset", "malformed-kind", "malformed-tensor", "malformed-envelope"},
      "malformed-probe");
}

TEST_CASE("a first-seen task that fails admission gets a signed Rejected or Unsupported result at once") {
  region_fixture f;
  INFO(f.diagnostics());
  f.start_agent();
  auto& agg = f.aggregator;
  auto unknown_kernel = small_task("admission-unknown-kernel");
  unknown_kernel.kernel = "no_such_kernel";
  auto too_long = small_task("admission-validity");
  too_long.issued_at_ms = agg.now_ms();
  too_long.expires_at_ms = too_long.issued_at_ms + 48ULL * 3600 * 1000;  // above agent.max_task_validity_s (24 h)
  auto bad_params = small_task("admission-outputs");
  bad_params.outputs.at(0).shape = {12345};  // not what bind() computes for the inputs
  agg.queue_tasks(f.id(), {unknown_kernel, too_long, bad_params});
  for (const char* id : {"admission-unknown-kernel", "admission-validity", "admission-outputs"}) {
    REQUIRE_MESSAGE(agg.wait_result_for(id, result_timeout), "no result for " << id);
    const auto r = agg.accepted().at({id, 0}).result;
    CHECK_MESSAGE((r.status == protocol::result_status::rejected || r.status == protocol::result_status::unsupported),
                  id << ": status " << protocol::to_string(r.status) << " error '" << r.error << "'");
    CHECK_MESSAGE(!r.error.empty(), id << ": no error text");
    CHECK(r.outputs.empty());
  }
  CHECK(agent_still_works(f, "admission-probe"));
}
