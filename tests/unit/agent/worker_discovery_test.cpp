// Device discovery in a child process: its report becomes proxy devices with the child's verdicts, and a child
// that hangs (test hook: a driver stuck in enumeration) is killed at the timeout and reported, not waited for.
#include "ec/agent/worker_discovery.hpp"

#include "worker_test_support.hpp"

using namespace worker_test;

namespace {

discovery_options cpu_only(const temp_dir& state) {
  discovery_options o;
  o.binary = EC_AGENT_BINARY;
  o.probe.state_dir = state.path;
  o.probe.module_dir = EC_MODULE_DIR;
  o.probe.disabled_backends = {"vulkan", "opencl"};
  o.idle_priority = false;
  return o;
}

}  // namespace

TEST_CASE("discovery in a child reports the CPU device and the kernels it passed") {
  temp_dir state;
  auto report = discover_in_child(cpu_only(state));
  REQUIRE_MESSAGE(report.ok(), report.err().what());
  const auto* cpu = report->devices->find("cpu");
  REQUIRE(cpu != nullptr);
  CHECK(cpu->info.resource_group == "cpu");
  CHECK(report->selector->choose("saxpy", "cpu") == cpu);
  CHECK_FALSE(report->selector->kernels_passed(*cpu).empty());
  // A proxy never runs a kernel in the agent's process.
  auto sample = ec::kernels::find_kernel("saxpy")->known_answer();
  std::vector<ec::protocol::tensor_ref> refs;
  for (const auto& t : sample.inputs) refs.push_back(t.ref());
  auto call = ec::kernels::find_kernel("saxpy")->bind(sample.params, refs);
  REQUIRE(call.ok());
  CHECK(cpu->dev->run(*call, ec::backends::clock::now() + 1s).code() == ec::error_code::unavailable);
}

#ifdef EC_TEST_HOOKS
TEST_CASE("a hanging discovery is killed at its timeout and reported") {
  temp_dir state;
  auto o = cpu_only(state);
  o.test_hang = true;
  o.timeout = 500ms;
  const auto t0 = ec::backends::clock::now();
  auto report = discover_in_child(o);
  const auto took = ec::backends::clock::now() - t0;
  REQUIRE_FALSE(report.ok());
  CHECK(report.code() == ec::error_code::timeout);
  CHECK(report.err().message.find("killed") != std::string::npos);
  CHECK(took < 5s);
}
#endif
