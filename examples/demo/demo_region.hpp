// Read-only views of the demo region's database (the file edge-aggregator writes and edgectl reads): job
// progress for the live display, and every stored result with its agent, device and timings for the summary.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ec/aggregator/sqlite_storage.hpp"
#include "ec/aggregator/storage.hpp"
#include "ec/protocol/error.hpp"
#include "ec/protocol/messages.hpp"

namespace ec::demo {

/// A job with its work-unit counts.
struct job_progress {
  aggregator::job_row job;
  aggregator::work_unit_counts counts;
  [[nodiscard]] std::uint64_t total() const {
    return counts.pending + counts.running + counts.validated + counts.failed;
  }
  [[nodiscard]] bool final() const { return counts.pending + counts.running == 0; }
};

/// One stored result of a job's task, joined with its lease and decoded.
struct result_record {
  std::string wu_id, task_id, agent_id;
  std::uint32_t attempt = 1;
  protocol::result_status status = protocol::result_status::ok;
  std::uint64_t issued_at_ms = 0;    // the lease (TaskBatch) was made
  std::uint64_t received_at_ms = 0;  // the aggregator stored the result
  std::uint64_t agent_run_us = 0;    // the agent's timings: total_us - queued_us, the task's own time (0: none)
  std::string backend, device;       // the device that ran it, as the agent reported it
};

/// The region database, opened read-only for the life of the object.
class region_db {
 public:
  static result<region_db> open(const std::filesystem::path& path);

  /// The named jobs, in the given order; a missing one is an error.
  result<std::vector<job_progress>> jobs(std::span<const std::string> job_ids);
  /// Enrolled agents with their principals.
  result<std::vector<aggregator::agent_key_row>> agents();
  /// Per-agent results received at or after since_ms.
  result<std::vector<aggregator::agent_stats>> throughput(std::uint64_t since_ms);
  /// Every stored result of the job's tasks.
  result<std::vector<result_record>> results(const std::string& job_id);
  /// The job's work units, in order of submission.
  result<std::vector<aggregator::work_unit_row>> work_units(const std::string& job_id);
  /// The canonical (validated) outputs of a work unit: the stored Ok result with the ledger's digest.
  result<std::vector<protocol::tensor>> canonical_outputs(const aggregator::work_unit_row& unit);

 private:
  explicit region_db(std::unique_ptr<aggregator::sqlite_storage> db) : db_(std::move(db)) {}
  std::unique_ptr<aggregator::sqlite_storage> db_;
};

/// Milliseconds since the Unix epoch (the clock the aggregator stamps rows with).
std::uint64_t wall_ms();

}  // namespace ec::demo
