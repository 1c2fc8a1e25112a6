// Matching pending work to an agent that asks: which units it may take (kernels it self-tested, memory and buffer
// limits, never a second replica for one principal) and how many (its observed throughput, slots and byte limits).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ec/aggregator/lease_policy.hpp"
#include "ec/protocol/limits.hpp"
#include "ec/protocol/messages.hpp"

namespace ec::aggregator {

/// What the aggregator knows of an agent from its hello and enrollment.
struct agent_profile {
  std::string agent_id;
  std::string principal;
  std::vector<protocol::device_info> devices;
  bool online = true;
  protocol::agent_state state = protocol::agent_state::run;
};

/// A work unit that wants more replicas, with what matching must know about it.
struct pending_unit {
  std::string unit_id;
  std::string kernel;
  std::uint32_t kernel_version = 0;   // 0: any
  std::vector<std::string> backends;  // custom code: the backends its code is for (custom_code_backends); empty: any
  std::uint64_t min_memory_bytes = 0;
  std::uint64_t largest_tensor_bytes = 0;
  std::uint64_t task_bytes = 0;  // what one task adds to a TaskBatch
  std::int32_t priority = 0;
  std::uint64_t deadline_ms = 0;                 // 0: none
  std::uint32_t replicas_wanted = 1;             // replicas to issue now
  std::vector<std::string> excluded_principals;  // principals holding or having returned a replica of this unit
  std::vector<std::string> excluded_agents;      // agents that returned a result for it (or refused it)
};

struct matching_config {
  std::uint32_t initial_batch = 1;     // tasks for an agent never observed
  double target_batch_seconds = 30.0;  // a batch should keep the agent busy about this long
  std::uint32_t max_batch = 256;       // protocol::max_blobs_per_batch
  std::uint64_t max_payload = protocol::default_max_payload;
  std::uint64_t batch_overhead = 8192;  // TaskBatch envelope, signature, table
};

/// Where an agent stands with us: its throughput and how many results it has returned.
struct agent_activity {
  throughput speed;  // from throughput_tracker
  std::uint64_t results_returned = 0;
};

/// The kernel name agents advertise for custom code (protocol.md, "Custom kernels"), on the devices that run it.
inline constexpr const char* custom_kernel_name = "custom";

/// The backends that can run this code: "vulkan" when it has SPIR-V, "opencl" when it has OpenCL C.
std::vector<std::string> custom_code_backends(const protocol::custom_kernel& code);

/// The name a job is stored and leased under: the catalogue kernel, or for custom code "custom/spirv" or
/// "custom/opencl" (one kind of code) or "custom" (both), so that storage offers it only to agents able to run it.
std::string lease_kernel_name(const protocol::task& templ);

/// The names an agent may lease work under: its devices' kernels, plus "custom/spirv" for a Vulkan device and
/// "custom/opencl" for an OpenCL device that lists "custom".
std::vector<std::string> lease_kernel_names(const agent_profile& agent);

/// The matching facts of a stored unit's Task template (kernel, custom code's backends, memory, largest buffer).
pending_unit pending_unit_of(const std::string& unit_id, const protocol::task& templ);

/// How many tasks to send: initial_batch at first, then growing with observed throughput (and at most doubling
/// with each result returned), capped by free_slots + max_tasks and max_batch.
std::uint32_t batch_size(const matching_config& config, const protocol::work_request& request,
                         const agent_activity& activity);

/// True when one of the agent's devices lists the kernel (passed its self-test; "custom": accepts custom code), is of
/// a backend the unit's code is for, and holds the unit's memory and largest buffer.
bool agent_can_run(const agent_profile& agent, const pending_unit& unit);

/// Why a unit was not given to this agent (for status output and tests); "" when it may be.
std::string exclusion_reason(const agent_profile& agent, const pending_unit& unit);

/// Indices of `units` to lease to this agent, one task per unit at most, highest priority and earliest deadline
/// first, within the batch size and the byte limits (max_batch_bytes, the message cap).
std::vector<std::size_t> match_tasks(const matching_config& config, const agent_profile& agent,
                                     const protocol::work_request& request, const agent_activity& activity,
                                     std::span<const pending_unit> units);

}  // namespace ec::aggregator
