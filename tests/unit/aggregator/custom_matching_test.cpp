// Matching custom code: only devices that list "custom" (an agent with trust.allow_custom_kernels) and whose backend
// the code is for (SPIR-V: Vulkan, OpenCL C: OpenCL) get it; storage offers a custom job only under the names such
// an agent leases with; and an agent that answered a unit Unsupported or Rejected is not offered it again.
#include <doctest/doctest.h>

#include "ec/aggregator/task_matching.hpp"
#include "storage_test_support.hpp"

namespace ec::aggregator {
namespace {

using namespace test;

protocol::device_info device(const std::string& backend, std::vector<std::string> kernels) {
  protocol::device_info d;
  d.name = backend + "-dev";
  d.backend = backend;
  d.kernels = std::move(kernels);
  d.memory_bytes = 1 << 30;
  d.max_buffer_bytes = 1 << 28;
  return d;
}

agent_profile agent_with(std::vector<protocol::device_info> devices) {
  return {"a1", "alice", std::move(devices), true, protocol::agent_state::run};
}

protocol::task custom_template(bool spirv, bool opencl) {
  protocol::task t;
  t.kernel = "custom";
  protocol::custom_kernel c;
  if (spirv) c.spirv = protocol::bytes(8, 1);
  if (opencl) c.opencl_c = "__kernel void k() {}";
  c.entry = "k";
  t.custom = c;
  return t;
}

TEST_CASE("custom units go only to devices that list custom and whose backend the code is for") {
  const auto spirv_only = pending_unit_of("u0", custom_template(true, false));
  const auto opencl_only = pending_unit_of("u1", custom_template(false, true));
  const auto both = pending_unit_of("u2", custom_template(true, true));
  CHECK(spirv_only.kernel == "custom");
  CHECK(spirv_only.backends == std::vector<std::string>{"vulkan"});
  CHECK(both.backends == std::vector<std::string>{"vulkan", "opencl"});

  const auto vulkan = agent_with({device("cpu", {"saxpy"}), device("vulkan", {"saxpy", "custom"})});
  CHECK(agent_can_run(vulkan, spirv_only));
  CHECK_FALSE(agent_can_run(vulkan, opencl_only));
  CHECK(agent_can_run(vulkan, both));
  CHECK(exclusion_reason(vulkan, opencl_only) == "device cpu-dev does not list kernel 'custom'");
  const auto opencl = agent_with({device("opencl", {"saxpy", "custom"})});
  CHECK(exclusion_reason(opencl, spirv_only) == "device opencl-dev (opencl) cannot run this code: it is for vulkan");
  CHECK(agent_can_run(opencl, opencl_only));
  CHECK(agent_can_run(opencl, both));
  // An agent with custom kernels off does not list "custom" at all: no custom unit matches it.
  const auto off = agent_with({device("vulkan", {"saxpy"}), device("opencl", {"saxpy"})});
  CHECK_FALSE(agent_can_run(off, spirv_only));
  CHECK_FALSE(agent_can_run(off, both));
  const std::vector<pending_unit> units{spirv_only, opencl_only, both};
  const protocol::work_request request{"a1", "r1", 4, 4, 0, 0};
  CHECK(match_tasks({}, vulkan, request, {}, units).size() == 1);  // the first batch is one task: u0
  CHECK(match_tasks({}, opencl, request, {}, units) == std::vector<std::size_t>{1});
  CHECK(match_tasks({}, off, request, {}, units).empty());
}

TEST_CASE("custom jobs are leased under custom/spirv, custom/opencl or custom, as the agent's devices allow") {
  CHECK(lease_kernel_name(custom_template(true, false)) == "custom/spirv");
  CHECK(lease_kernel_name(custom_template(false, true)) == "custom/opencl");
  CHECK(lease_kernel_name(custom_template(true, true)) == "custom");
  protocol::task saxpy;
  saxpy.kernel = "saxpy";
  CHECK(lease_kernel_name(saxpy) == "saxpy");
  CHECK(lease_kernel_names(agent_with({device("vulkan", {"saxpy", "custom"}), device("cpu", {"saxpy"})})) ==
        std::vector<std::string>{"custom", "custom/spirv", "saxpy"});
  CHECK(lease_kernel_names(agent_with({device("opencl", {"custom"})})) ==
        std::vector<std::string>{"custom", "custom/opencl"});
  CHECK(lease_kernel_names(agent_with({device("vulkan", {"saxpy"})})) == std::vector<std::string>{"saxpy"});

  // Storage offers an OpenCL-only job to an agent with Vulkan custom support not at all, so it never crowds out
  // work that agent can run.
  temp_dir dir;
  auto db = open_db(dir.db());
  const auto a = admit(*db, "a", "alice");
  add_job(*db, "cl", 3, 1, "custom/opencl");
  add_job(*db, "vk", 1, 1, "custom/spirv");
  const auto vulkan_names = lease_kernel_names(agent_with({device("vulkan", {"saxpy", "custom"})}));
  auto offered = must(db->find_leasable({a, "alice", vulkan_names, 1, 1000}));
  REQUIRE(offered.size() == 1);
  CHECK(offered[0].wu_id == "vk/0");
  CHECK(must(db->find_leasable({a, "alice", {"saxpy"}, 4, 1000})).empty());
}

TEST_CASE("an agent that answered a unit Unsupported or Rejected is not offered it again, another agent is") {
  temp_dir dir;
  auto db = open_db(dir.db());
  const auto a = admit(*db, "a", "alice");
  const auto b = admit(*db, "b", "bob");
  add_job(*db, "job", 2, 1);
  auto first = test::lease(*db, a, 2, 1000, "req-1");
  REQUIRE(first.size() == 2);
  constexpr std::uint8_t unsupported = 4, rejected = 3, timeout = 2;
  const std::vector<result_row> answers{result_for(first[0], "", unsupported), result_for(first[1], "", timeout)};
  must(db->store_results(answers));
  // Both slots are freed; a gets back only the unit it did not refuse (a timeout may pass), b may take both.
  auto again = must(db->find_leasable({a, "alice", {"saxpy"}, 4, 2000}));
  REQUIRE(again.size() == 1);
  CHECK(again[0].wu_id == first[1].wu_id);
  CHECK(must(db->find_leasable({b, "bob", {"saxpy"}, 4, 2000})).size() == 2);

  auto second = test::lease(*db, a, 1, 2000, "req-2");
  REQUIRE(second.size() == 1);
  const auto refused = result_for(second[0], "", rejected, 6000);
  must(db->store_results(std::span(&refused, 1)));
  CHECK(must(db->find_leasable({a, "alice", {"saxpy"}, 4, 3000})).empty());
  CHECK(must(db->find_leasable({b, "bob", {"saxpy"}, 4, 3000})).size() == 2);
}

}  // namespace
}  // namespace ec::aggregator
