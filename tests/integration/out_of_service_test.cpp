// A real edge-agent whose worker processes keep crashing: the supervisor takes the resource group out of service,
// the agent republishes its hello naming the group (and without its devices), answers what it can no longer run
// at once, and keeps running (docs/isolation.md).
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "integration_support.hpp"

using namespace ec::test;
namespace protocol = ec::protocol;

namespace {

// The supervisor's defaults (worker_executor_options; no config key): 5 crashes within 10 minutes take a group
// out of service, restarts back off 200 ms doubling, so the five crashes take about 3 s of backoff.
constexpr int crashes_to_out_of_service = 5;

bool lists(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

bool has_group_device(const std::vector<protocol::device_info>& devices, const std::string& group) {
  return std::any_of(devices.begin(), devices.end(),
                     [&](const protocol::device_info& d) { return d.resource_group == group; });
}

}  // namespace

TEST_CASE("a resource group whose workers keep crashing is announced out of service and refuses work at once") {
  // One slot: the crash tasks run one after another, each crash counted once.
  region_fixture f(1, {{"agent.executor", "\"worker\""}, {"agent.max_slots", "1"}});
  INFO(f.diagnostics());
  f.start_agent();
  const auto before = f.aggregator.agent(f.id());
  REQUIRE(before.has_value());
  // The CPU backend (the only one enabled) reports its device in the "cpu" group.
  REQUIRE(has_group_device(before->devices, "cpu"));
  CHECK(before->out_of_service.empty());
  CHECK(before->max_slots == 1);

  // Tasks whose workers SIGSEGV (EC_TEST_HOOKS): enough crashes within the window take "cpu" out of service.
  std::vector<protocol::task> crashers;
  for (int i = 0; i < crashes_to_out_of_service; ++i)
    crashers.push_back(small_task("ec-test-segv-" + std::to_string(i)));
  f.aggregator.queue_tasks(f.id(), crashers);

  // 1. A newer hello of the same session, online, names the group and leaves out its devices and slots.
  const bool announced = f.aggregator.wait_agent(
      f.id(), [](const agent_record& r) { return r.online && lists(r.out_of_service, "cpu"); }, 20s);
  REQUIRE_MESSAGE(announced, "no hello naming the cpu group out of service");
  const auto after = f.aggregator.agent(f.id());
  REQUIRE(after.has_value());
  CHECK(after->session_seq >= before->session_seq);
  CHECK(after->hellos > before->hellos);
  CHECK(after->out_of_service == std::vector<std::string>{"cpu"});
  CHECK_FALSE(has_group_device(after->devices, "cpu"));
  CHECK(after->max_slots == 0);

  // Every crash task was answered (a failure, not a result), none was lost with its worker.
  for (const auto& t : crashers) {
    REQUIRE_MESSAGE(f.aggregator.wait_result_for(t.task_id, result_timeout), "no result for " << t.task_id);
    const auto got = f.aggregator.results_for(t.task_id);
    REQUIRE_FALSE(got.empty());
    CHECK_MESSAGE(got.front().result.status != protocol::result_status::ok,
                  t.task_id << ": " << protocol::to_string(got.front().result.status));
  }

  // 2. A normal task afterwards is answered without running: nothing in service can run it.
  const std::string normal = "after-out-of-service";
  f.aggregator.queue_tasks(f.id(), {small_task(normal)});
  REQUIRE_MESSAGE(f.aggregator.wait_result_for(normal, result_timeout), "no result for " << normal);
  const auto answered = f.aggregator.results_for(normal);
  REQUIRE_FALSE(answered.empty());
  const auto& r = answered.front().result;
  CHECK_MESSAGE(r.status == protocol::result_status::kernel_error, protocol::to_string(r.status) << " " << r.error);
  CHECK(r.error == "resource group out of service");
  CHECK(r.outputs.empty());
  // At once: not held in a queue until its deadline (the aggregator's default max_runtime_ms is 30 s).
  const auto timings = f.aggregator.task_timings();
  const auto timing = timings.find({normal, 0});
  REQUIRE(timing != timings.end());
  CHECK(timing->second.result_at - timing->second.issued < 5s);

  // 3. The agent itself keeps running, and its status names the group out of service.
  CHECK(f.agent().running());
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  std::string status;
  for (;;) {
    const auto [rc, text] = f.agent().run_cli({"status", "--config", f.agent().config_path().string()});
    status = text;
    if (rc == 0 && text.find("\nout_of_service cpu\n") != std::string::npos) break;
    if (std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // polling another process's status file
  }
  CHECK_MESSAGE(status.find("\nout_of_service cpu\n") != std::string::npos, "edge-agent status:\n" << status);
  CHECK(f.agent().running());
  CHECK(f.agent().terminate() == 0);
}
