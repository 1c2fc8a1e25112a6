// Lease arithmetic and the result-arrival rule (protocol.md: a late valid result is still accepted while its
// work unit is not yet validated; Rejected/Expired/Unsupported — and Cancelled, which a restarting or draining
// agent sends for work it will not run — free the task at once).
#include "ec/aggregator/lease_policy.hpp"

#include <algorithm>
#include <cmath>

namespace ec::aggregator {

void throughput_tracker::observe(const std::string& agent_id, double seconds_per_task) {
  if (!std::isfinite(seconds_per_task)) return;
  const double s = std::clamp(seconds_per_task, config_.min_seconds_per_task, config_.max_seconds_per_task);
  auto& t = agents_[agent_id];
  t.seconds_per_task = t.samples == 0 ? s : config_.ewma_alpha * s + (1 - config_.ewma_alpha) * t.seconds_per_task;
  ++t.samples;
}

void throughput_tracker::observe_batch(const std::string& agent_id, std::uint64_t elapsed_ms, std::uint32_t tasks) {
  if (tasks == 0) return;
  observe(agent_id, static_cast<double>(elapsed_ms) / 1000.0 / tasks);
}

throughput throughput_tracker::get(const std::string& agent_id) const {
  const auto it = agents_.find(agent_id);
  if (it == agents_.end() || it->second.samples == 0) return {config_.initial_seconds_per_task, 0};
  return it->second;
}

std::uint64_t queue_allowance_ms(const lease_config& config, const throughput& t, std::uint32_t max_tasks) {
  const double spt = t.samples ? t.seconds_per_task : config.initial_seconds_per_task;
  const double ms = std::ceil(std::max(0.0, spt) * 1000.0 * max_tasks);
  if (!(ms < static_cast<double>(config.max_queue_allowance_ms))) return config.max_queue_allowance_ms;
  return static_cast<std::uint64_t>(ms);
}

std::uint64_t lease_duration_ms(const lease_config& config, const throughput& t, std::uint32_t max_tasks,
                                std::uint32_t task_max_runtime_ms) {
  return queue_allowance_ms(config, t, max_tasks) + task_max_runtime_ms + config.grace_ms;
}

lease next_attempt(const lease& l) {
  lease n;
  n.task_id = l.task_id;
  n.attempt = l.attempt + 1;
  return n;
}

bool frees_task(protocol::result_status status) {
  using s = protocol::result_status;
  return status == s::rejected || status == s::expired || status == s::unsupported || status == s::cancelled;
}

result_decision on_result(const lease* held, std::uint32_t current_attempt, protocol::result_status status,
                          unit_state unit, std::uint64_t now_ms) {
  if (!held) return {result_action::reject, "no_lease", false};
  const bool late = expired(*held, now_ms) || held->attempt < current_attempt;
  if (unit != unit_state::pending) return {result_action::reject, "superseded", late};
  if (frees_task(status)) {
    // Only the current attempt's holder can free it; a stale attempt was already reissued.
    const bool current = held->attempt == current_attempt && !expired(*held, now_ms);
    return {current ? result_action::accept_and_free : result_action::accept, "", late};
  }
  return {result_action::accept, "", late};
}

}  // namespace ec::aggregator
