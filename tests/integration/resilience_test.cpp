// Delivery without loss: the broker killed and restarted (no persistence), the agent SIGKILLed and restarted,
// receipts withheld. Every result arrives and none is counted twice by the aggregator's (task_id, attempt) keys.
#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "integration_support.hpp"

using namespace ec::test;
namespace protocol = ec::protocol;

namespace {

// Tasks that take a moment each (sgemm 160^3 on the CPU backend), so that a kill lands mid-run.
std::vector<protocol::task> work(const std::string& prefix, std::size_t n) {
  const auto* spec = ec::kernels::find_kernel("sgemm");
  REQUIRE(spec != nullptr);
  std::vector<protocol::task> out;
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(make_kernel_case(*spec, prefix + std::to_string(i), {160, 160, 160}, i + 1).task);
  }
  return out;
}

// Every task has exactly one accepted (task_id, attempt), with status ok, and the accepted counter agrees.
void check_each_once(const test_aggregator& agg, const std::string& prefix, std::size_t n) {
  const auto accepted = agg.accepted();
  std::set<std::string> seen;
  for (const auto& entry : accepted) {
    const auto& key = entry.first;  // no structured binding: clang 14 cannot capture one in CHECK_MESSAGE
    const auto& rec = entry.second;
    if (key.first.rfind(prefix, 0) != 0) continue;
    CHECK_MESSAGE(seen.insert(key.first).second, key.first << " accepted under two attempts");
    CHECK_MESSAGE(rec.result.status == protocol::result_status::ok,
                  key.first << ": " << protocol::to_string(rec.result.status) << " " << rec.result.error);
  }
  CHECK(seen.size() == n);
  for (std::size_t i = 0; i < n; ++i) {
    CHECK_MESSAGE(seen.count(prefix + std::to_string(i)) == 1, "no result for " << prefix << i);
  }
  CHECK(agg.counters().results_refused == 0);
}

}  // namespace

TEST_CASE("broker killed and restarted mid-run: every result arrives, none counted twice") {
  region_fixture f;
  INFO(f.diagnostics());
  f.start_agent();
  auto& agg = f.aggregator;
  constexpr std::size_t n = 16;
  auto tasks = work("broker-kill-", n);
  agg.queue_tasks(f.id(), std::vector<protocol::task>(tasks.begin(), tasks.begin() + 8));
  REQUIRE(agg.wait_results(2, result_timeout));
  f.broker.kill();
  const auto at_kill = agg.counters();
  CHECK_MESSAGE(at_kill.results_accepted < 8, "the first wave finished before the broker died: not mid-run");
  // Work queued while the broker is down goes out when the agent asks again after reconnecting.
  agg.queue_tasks(f.id(), std::vector<protocol::task>(tasks.begin() + 8, tasks.end()));
  f.broker.restart();
  REQUIRE(agg.wait_results(n, 50s));
  check_each_once(agg, "broker-kill-", n);
  CHECK(agg.counters().results_accepted == n);
}

TEST_CASE("agent SIGKILLed mid-run and restarted: every result arrives, none counted twice") {
  region_fixture f;
  INFO(f.diagnostics());
  f.start_agent();
  auto& agg = f.aggregator;
  constexpr std::size_t n = 12;
  const auto tasks = work("agent-kill-", n);
  agg.queue_tasks(f.id(), tasks);
  REQUIRE(agg.wait_results(2, result_timeout));
  CHECK(f.agent().kill() == 128 + 9);
  // Some issued tasks had no result yet: the restarted agent must recover them (journal, broker session).
  const auto at_kill = agg.counters();
  CHECK_MESSAGE(at_kill.tasks_issued > at_kill.results_accepted, "every issued task was done: not mid-run");
  f.start_agent();
  REQUIRE(agg.wait_results(n, 50s));
  check_each_once(agg, "agent-kill-", n);
  CHECK(agg.counters().results_accepted == n);
}

TEST_CASE("receipts withheld: the agent republishes the same spooled bytes until receipted") {
  region_fixture f(1, {{"spool.republish_initial_s", "1"}, {"spool.republish_max_s", "2"}});
  INFO(f.diagnostics());
  f.start_agent();
  auto& agg = f.aggregator;
  agg.set_withhold_receipts(true);
  agg.queue_tasks(f.id(), {small_task("withheld-1")});
  REQUIRE(agg.wait_result_for("withheld-1", result_timeout));
  REQUIRE(agg.wait_identical_result_batches(1, 15s));
  // The republished batch is byte-identical to the first one (the spool keeps signed bytes, never re-signs).
  const auto batches = agg.result_batches();
  REQUIRE(batches.size() >= 2);
  CHECK(batches[1].identical);
  CHECK(batches[1].payload == batches[0].payload);
  CHECK(distinct_result_blobs(agg, "withheld-1") == 1);
  CHECK(agg.counters().results_accepted == 1);
  CHECK(agg.counters().results_duplicate >= 1);

  // Once receipted, the agent stops republishing and releases the spool entry.
  agg.set_withhold_receipts(false);
  REQUIRE(agg.wait_receipts(1, 15s));
  REQUIRE(agent_still_works(f, "withheld-probe"));
  CHECK(wait_spool_empty(f.agent(), 20s));
  CHECK(f.agent().terminate() == 0);
  const auto cli = f.agent().run_cli({"status", "--config", f.agent().config_path().string()});
  const int rc = cli.first;  // no structured binding: clang 14 cannot capture one in INFO
  const std::string& status = cli.second;
  INFO("edge-agent status:\n" << status);
  CHECK(rc == 0);
  CHECK(spool_pending_batches(status) == 0);
}

TEST_CASE("lost ResultBatches (dropped by the aggregator) are republished and then accepted") {
  region_fixture f(1, {{"spool.republish_initial_s", "1"}, {"spool.republish_max_s", "2"}});
  INFO(f.diagnostics());
  f.start_agent();
  auto& agg = f.aggregator;
  agg.drop_next_result_batches(2);
  agg.queue_tasks(f.id(), {small_task("lost-1")});
  REQUIRE(agg.wait_result_for("lost-1", 20s));
  CHECK(agg.counters().result_batches_dropped == 2);
  CHECK(agg.counters().results_accepted == 1);
}
