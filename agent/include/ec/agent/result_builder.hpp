// Result blobs as the agent sends them: bound to the Task received (task_digest) and to its outputs
// (output_digest), with the device and timings that produced them.
#pragma once

#include <string>

#include "ec/agent/executor.hpp"
#include "ec/protocol/bytes.hpp"

namespace ec::agent {

/// What a result must repeat of its task.
struct task_identity {
  std::string task_id, job_id;
  std::uint32_t attempt = 0;
  protocol::sha256_digest task_digest{};
};

/// A Result blob for an executed task (any status); outputs and their digest only for status ok.
protocol::bytes build_result_blob(const task_identity& task, std::string_view agent_id, const execution_outcome& outcome,
                                  std::uint64_t finished_at_ms);

/// A Result blob answering a task that was not run (Rejected, Expired, Unsupported, Cancelled), with the reason.
protocol::bytes build_answer_blob(const task_identity& task, std::string_view agent_id, protocol::result_status status,
                                  std::string reason, std::uint64_t finished_at_ms);

}  // namespace ec::agent
