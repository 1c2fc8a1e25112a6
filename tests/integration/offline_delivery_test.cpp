// Results that wait: delivered hours late (the aggregator's clock moved ahead while the agent was offline), and a
// spool that fills while receipts are withheld, so pulling stops and resumes with nothing lost or refused.
#include <doctest/doctest.h>

#include <cinttypes>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "integration_support.hpp"

using namespace ec::test;
namespace protocol = ec::protocol;

namespace {

// Parses "spool_bytes N of C" from a running agent's status file; nothing when absent.
std::optional<std::pair<std::uint64_t, std::uint64_t>> spool_bytes(const std::string& status) {
  const auto at = status.find("spool_bytes ");
  if (at == std::string::npos) return std::nullopt;
  std::uint64_t used = 0, capacity = 0;
  if (std::sscanf(status.c_str() + at, "spool_bytes %" SCNu64 " of %" SCNu64, &used, &capacity) != 2)
    return std::nullopt;
  return std::pair{used, capacity};
}

// A copy task with n u32 elements: 4n bytes in, 4n bytes out.
protocol::task copy_task(const std::string& task_id, std::uint64_t n) {
  const auto* spec = ec::kernels::find_kernel("copy");
  REQUIRE(spec != nullptr);
  return make_kernel_case(*spec, task_id, {n}, 7).task;
}

}  // namespace

TEST_CASE("results computed before hours offline are delivered late, accepted, receipted and released") {
  region_fixture f(1, {{"spool.republish_initial_s", "1"}, {"spool.republish_max_s", "2"}});
  INFO(f.diagnostics());
  f.start_agent();
  auto& agg = f.aggregator;
  constexpr std::size_t n = 4;
  std::vector<protocol::task> tasks;
  for (std::size_t i = 0; i < n; ++i) tasks.push_back(copy_task("late-" + std::to_string(i), 1024));
  // The aggregator never sees the first deliveries (lost on the way), so the results sit in the agent's spool.
  agg.drop_next_result_batches(1'000'000);
  const auto last_expiry = agg.now_ms() + std::uint64_t{test_aggregator_options{}.default_validity_s} * 1000;
  agg.queue_tasks(f.id(), tasks);
  REQUIRE(agg.wait_until([](const aggregator_counters& c) { return c.result_batches_dropped >= 1; }, result_timeout));
  REQUIRE(wait_until_spooled(f.agent(), static_cast<long>(n), 20s));

  // Offline for hours: the agent stops with its spool, the broker goes away, the aggregator's clock moves on
  // six hours (far past every task's expires_at), then everything comes back.
  CHECK(f.agent().terminate() == 0);
  f.broker.stop();
  agg.set_clock_offset(std::chrono::hours(6));
  agg.drop_next_result_batches(0);
  f.broker.restart();
  f.start_agent();

  REQUIRE(agg.wait_results(n, 30s));
  CHECK(agg.now_ms() > last_expiry + 5ull * 3600 * 1000);  // every task expired hours ago on its clock
  const auto accepted = agg.accepted();
  for (std::size_t i = 0; i < n; ++i) {
    const auto it = accepted.find({"late-" + std::to_string(i), 0});
    REQUIRE(it != accepted.end());
    CHECK(it->second.result.status == protocol::result_status::ok);
  }
  CHECK(agg.counters().results_refused == 0);
  // The receipt is stamped six hours after the tasks were issued; the agent takes it and releases the spool.
  CHECK(wait_spool_empty(f.agent(), 20s));
  // Work issued on the moved clock is admitted and run as usual.
  CHECK(agent_still_works(f, "late-after"));
}

TEST_CASE("spool full: pulling stops with nothing dropped or refused, and resumes when receipts free it") {
  // 1 MiB spool (the smallest allowed), 128 KiB outputs: about six results fit.
  region_fixture f(1, {{"spool.max_bytes", "1048576"},
                       {"spool.republish_initial_s", "1"},
                       {"spool.republish_max_s", "1"},
                       {"agent.max_tasks", "1"}});
  INFO(f.diagnostics());
  f.start_agent();
  auto& agg = f.aggregator;
  constexpr std::size_t n = 16;
  std::vector<protocol::task> tasks;
  for (std::size_t i = 0; i < n; ++i) tasks.push_back(copy_task("full-" + std::to_string(i), 32 * 1024));
  agg.set_withhold_receipts(true);
  agg.queue_tasks(f.id(), tasks);

  // Results arrive until the spool is full; then the agent only republishes what it holds.
  REQUIRE(agg.wait_results(3, result_timeout));
  REQUIRE(agg.wait_identical_result_batches(1, 20s));
  const auto before = agg.counters();
  const auto requests_before = agg.work_requests().size();
  // Two more republish rounds (one second apart): time for any pull the agent would make.
  REQUIRE(agg.wait_identical_result_batches(before.result_batches_identical + 2, 20s));
  const auto stalled = agg.counters();
  CHECK(stalled.results_accepted == before.results_accepted);
  CHECK(agg.work_requests().size() == requests_before);
  CHECK(stalled.results_accepted < n);
  CHECK(agg.queued_tasks(f.id()) > 0);
  const auto cli = f.agent().run_cli({"status", "--config", f.agent().config_path().string()});
  const std::string status = cli.second;
  INFO("edge-agent status:\n" << status);
  const auto bytes = spool_bytes(status);
  REQUIRE(bytes.has_value());
  CHECK(bytes->second == 1048576);
  CHECK(bytes->first > 1048576 / 2);

  // Receipts flow again: the spool drains, pulling resumes, and every task ends with one accepted ok result.
  agg.set_withhold_receipts(false);
  REQUIRE(agg.wait_results(n, 60s));
  const auto accepted = agg.accepted();
  for (std::size_t i = 0; i < n; ++i) {
    const auto it = accepted.find({"full-" + std::to_string(i), 0});
    REQUIRE_MESSAGE(it != accepted.end(), "no result for full-" << i);
    CHECK_MESSAGE(
        it->second.result.status == protocol::result_status::ok,
        "full-" << i << ": " << protocol::to_string(it->second.result.status) << " " << it->second.result.error);
  }
  CHECK(agg.counters().results_refused == 0);
  CHECK(wait_spool_empty(f.agent(), 20s));
}
