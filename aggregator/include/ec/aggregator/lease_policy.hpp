// Leases (protocol.md, "Timers and limits"): how long an agent holds a task — queue allowance from its prefetch
// depth and observed speed, plus the task's max runtime, plus grace — and what a result or an expiry does to it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "ec/protocol/messages.hpp"

namespace ec::aggregator {

struct lease_config {
  std::uint64_t grace_ms = 30'000;
  double ewma_alpha = 0.3;                 // weight of the newest sample of seconds per task
  double initial_seconds_per_task = 10.0;  // before an agent has returned anything
  double min_seconds_per_task = 0.001;     // samples are clamped: agents' numbers are not trusted
  double max_seconds_per_task = 24.0 * 3600;
  std::uint64_t max_queue_allowance_ms = 6 * 3600 * 1000ULL;
};

/// An agent's observed throughput: an EWMA of seconds per task.
struct throughput {
  double seconds_per_task = 0;
  std::uint64_t samples = 0;
};

/// Observed throughput per agent, from the times between issuing tasks and receiving their results.
class throughput_tracker {
 public:
  explicit throughput_tracker(lease_config config = {}) : config_(config) {}
  /// Adds one sample (clamped) of seconds spent per task by this agent.
  void observe(const std::string& agent_id, double seconds_per_task);
  /// Adds a sample from a batch: `tasks` results received `elapsed_ms` after they were leased together.
  void observe_batch(const std::string& agent_id, std::uint64_t elapsed_ms, std::uint32_t tasks);
  /// The current estimate (initial_seconds_per_task for an agent never observed).
  [[nodiscard]] throughput get(const std::string& agent_id) const;
  void restore(const std::string& agent_id, throughput t) { agents_[agent_id] = t; }

 private:
  lease_config config_;
  std::map<std::string, throughput> agents_;
};

/// Queue allowance: the agent may hold up to `max_tasks` tasks queued ahead of this one, each taking its observed
/// seconds per task.
std::uint64_t queue_allowance_ms(const lease_config& config, const throughput& t, std::uint32_t max_tasks);

/// Lease length for a task issued in answer to a WorkRequest: allowance + max_runtime_ms + grace.
std::uint64_t lease_duration_ms(const lease_config& config, const throughput& t, std::uint32_t max_tasks,
                                std::uint32_t task_max_runtime_ms);

/// One lease as stored: which agent holds which (task, attempt) until when.
struct lease {
  std::string task_id;
  std::uint32_t attempt = 0;
  std::string agent_id;
  std::uint64_t issued_at_ms = 0;
  std::uint64_t expires_at_ms = 0;
};

[[nodiscard]] inline bool expired(const lease& l, std::uint64_t now_ms) { return now_ms >= l.expires_at_ms; }

/// The task's next attempt after an expiry or a freeing result: same task id, attempt + 1, no holder yet.
lease next_attempt(const lease& l);

/// Where the work unit of a task stands when one of its results arrives.
enum class unit_state : std::uint8_t { pending, validated, failed };

/// What to do with an arriving result.
enum class result_action : std::uint8_t {
  accept,           // store it and run validation on the unit
  accept_and_free,  // store it (not counted toward a quorum) and reissue the task now with attempt + 1
  reject,           // receipt accepted=false with `reason`; never stored
};

struct result_decision {
  result_action action = result_action::reject;
  std::string_view reason;  // receipt reason: "", "no_lease", "superseded"
  bool late = false;        // the lease had expired (or the task moved to a later attempt)
};

/// Decides an arriving result for (task_id, attempt) from this agent. `held` is the lease this agent holds or held
/// for exactly that (task_id, attempt), or null; `current_attempt` is the task's newest attempt.
result_decision on_result(const lease* held, std::uint32_t current_attempt, protocol::result_status status,
                          unit_state unit, std::uint64_t now_ms);

/// Statuses that free a task at once: the agent will not run it, so waiting for the lease is wasted time.
[[nodiscard]] bool frees_task(protocol::result_status status);

}  // namespace ec::aggregator
