// Task matching: filters first (device, memory, principal exclusion), then order (priority, deadline, submission
// order), then the batch's count and byte limits.
#include "ec/aggregator/task_matching.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace ec::aggregator {
namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : " or ") + s;
  return out;
}

std::uint64_t largest_tensor(const protocol::task& t) {
  std::uint64_t most = 0;
  for (const auto* list : {&t.inputs, &t.outputs})
    for (const auto& x : *list) most = std::max(most, protocol::tensor_byte_size(x.type, x.shape).value_or(0));
  return most;
}

// The device's version of the kernel, or 0 when it does not say.
std::uint32_t version_of(const protocol::device_info& d, std::size_t i) {
  return i < d.kernel_versions.size() ? d.kernel_versions[i] : 0;
}

std::string device_problem(const protocol::device_info& d, const pending_unit& unit) {
  const auto it = std::find(d.kernels.begin(), d.kernels.end(), unit.kernel);
  if (it == d.kernels.end()) return "device " + d.name + " does not list kernel '" + unit.kernel + "'";
  if (!unit.backends.empty() && !contains(unit.backends, d.backend))
    return "device " + d.name + " (" + d.backend + ") cannot run this code: it is for " + join(unit.backends);
  const auto v = version_of(d, static_cast<std::size_t>(it - d.kernels.begin()));
  if (unit.kernel_version && v && v != unit.kernel_version)
    return "device " + d.name + " has kernel '" + unit.kernel + "' version " + std::to_string(v);
  if (d.memory_bytes && unit.min_memory_bytes > d.memory_bytes)
    return "device " + d.name + " has " + std::to_string(d.memory_bytes) + " bytes of memory, the unit needs " +
           std::to_string(unit.min_memory_bytes);
  if (d.max_buffer_bytes && unit.largest_tensor_bytes > d.max_buffer_bytes)
    return "device " + d.name + " buffers hold " + std::to_string(d.max_buffer_bytes) + " bytes, the unit needs " +
           std::to_string(unit.largest_tensor_bytes);
  return {};
}

}  // namespace

std::vector<std::string> custom_code_backends(const protocol::custom_kernel& code) {
  std::vector<std::string> out;
  if (!code.spirv.empty()) out.emplace_back("vulkan");
  if (!code.opencl_c.empty()) out.emplace_back("opencl");
  return out;
}

std::string lease_kernel_name(const protocol::task& templ) {
  if (!templ.custom) return templ.kernel;
  const auto backends = custom_code_backends(*templ.custom);
  if (backends.size() != 1) return custom_kernel_name;
  return std::string(custom_kernel_name) + (backends[0] == "vulkan" ? "/spirv" : "/opencl");
}

std::vector<std::string> lease_kernel_names(const agent_profile& agent) {
  std::vector<std::string> out;
  for (const auto& d : agent.devices) {
    out.insert(out.end(), d.kernels.begin(), d.kernels.end());
    if (contains(d.kernels, custom_kernel_name) && (d.backend == "vulkan" || d.backend == "opencl"))
      out.push_back(std::string(custom_kernel_name) + (d.backend == "vulkan" ? "/spirv" : "/opencl"));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

pending_unit pending_unit_of(const std::string& unit_id, const protocol::task& templ) {
  pending_unit pu;
  pu.unit_id = unit_id;
  pu.kernel = templ.kernel;
  if (templ.custom) pu.backends = custom_code_backends(*templ.custom);
  pu.min_memory_bytes = templ.min_memory_bytes;
  pu.largest_tensor_bytes = largest_tensor(templ);
  return pu;
}

std::uint32_t batch_size(const matching_config& config, const protocol::work_request& request,
                         const agent_activity& activity) {
  const std::uint64_t limit = std::min<std::uint64_t>(
      {std::uint64_t{request.free_slots} + request.max_tasks, config.max_batch, protocol::max_blobs_per_batch});
  if (limit == 0) return 0;
  const std::uint64_t initial = std::max<std::uint32_t>(config.initial_batch, 1);
  if (activity.results_returned == 0 || activity.speed.samples == 0)
    return static_cast<std::uint32_t>(std::min(limit, initial));
  const double spt = std::max(activity.speed.seconds_per_task, 1e-6);
  const double by_speed = std::max(1.0, std::floor(config.target_batch_seconds / spt));
  const std::uint64_t ramp = initial << std::min<std::uint64_t>(activity.results_returned, 20);
  const auto speed_cap = by_speed >= static_cast<double>(limit) ? limit : static_cast<std::uint64_t>(by_speed);
  return static_cast<std::uint32_t>(std::min({limit, speed_cap, ramp}));
}

std::string exclusion_reason(const agent_profile& agent, const pending_unit& unit) {
  if (!agent.online) return "agent is offline";
  if (agent.state != protocol::agent_state::run) return "agent is paused or draining";
  if (contains(unit.excluded_agents, agent.agent_id)) return "agent already returned a result for this unit";
  if (contains(unit.excluded_principals, agent.principal))
    return "principal '" + agent.principal + "' already holds a replica of this unit";
  if (agent.devices.empty()) return "agent has no devices";
  std::string why;
  for (const auto& d : agent.devices) {
    auto p = device_problem(d, unit);
    if (p.empty()) return {};
    if (why.empty()) why = std::move(p);
  }
  return why;
}

bool agent_can_run(const agent_profile& agent, const pending_unit& unit) {
  for (const auto& d : agent.devices)
    if (device_problem(d, unit).empty()) return true;
  return false;
}

std::vector<std::size_t> match_tasks(const matching_config& config, const agent_profile& agent,
                                     const protocol::work_request& request, const agent_activity& activity,
                                     std::span<const pending_unit> units) {
  std::vector<std::size_t> out;
  const std::uint32_t n = batch_size(config, request, activity);
  if (n == 0) return out;
  std::vector<std::size_t> order(units.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const auto& x = units[a];
    const auto& y = units[b];
    if (x.priority != y.priority) return x.priority > y.priority;
    const auto dx = x.deadline_ms ? x.deadline_ms : UINT64_MAX, dy = y.deadline_ms ? y.deadline_ms : UINT64_MAX;
    return dx < dy;
  });
  std::uint64_t byte_cap = config.max_payload > config.batch_overhead ? config.max_payload - config.batch_overhead : 0;
  if (request.max_batch_bytes) byte_cap = std::min<std::uint64_t>(byte_cap, request.max_batch_bytes);
  std::uint64_t bytes = 0;
  for (const auto i : order) {
    if (out.size() >= n) break;
    const auto& u = units[i];
    if (u.replicas_wanted == 0 || !exclusion_reason(agent, u).empty()) continue;
    if (bytes + u.task_bytes > byte_cap) continue;  // a smaller unit further on may still fit
    bytes += u.task_bytes;
    out.push_back(i);
  }
  return out;
}

}  // namespace ec::aggregator
