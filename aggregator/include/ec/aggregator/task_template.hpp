// A work unit's payload in storage: its Task template (everything but task_id, attempt, agent and validity),
// serialised as a Task blob, and the checked way back, since the database file is not trusted blindly either.
#pragma once

#include "ec/aggregator/job_expansion.hpp"
#include "ec/aggregator/storage.hpp"
#include "ec/protocol/bytes.hpp"
#include "ec/protocol/error.hpp"
#include "ec/protocol/messages.hpp"

namespace ec::aggregator {

/// The payload stored for an expanded unit: build() of its Task template.
protocol::bytes encode_task_template(const protocol::task& templ);

/// Decodes a stored payload, running the protocol's body verifier over it first (malformed on failure).
result<protocol::task> decode_task_template(protocol::byte_span payload);

/// Decodes a stored Result blob (verified the same way), e.g. to read a canonical result's outputs.
result<protocol::task_result> decode_stored_result(protocol::byte_span blob);

/// The work unit row of an expanded unit: payload, the job's quorum as replicas wanted, cost rounded up.
work_unit_row make_work_unit_row(const work_unit& unit, const std::string& job_id, std::uint32_t quorum);

}  // namespace ec::aggregator
