// Expansion of a job into work units: each unit is one ready-to-issue Task template whose Task (with its inputs)
// and Result (with its outputs) both fit the message cap, checked with the kernel's own bind().
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ec/aggregator/job_spec.hpp"
#include "ec/kernels/kernel_spec.hpp"
#include "ec/protocol/error.hpp"
#include "ec/protocol/limits.hpp"
#include "ec/protocol/messages.hpp"

namespace ec::aggregator {

/// Size rules a unit must satisfy.
struct expansion_limits {
  std::uint64_t max_payload = protocol::default_max_payload;  // the region's message cap
  /// Bytes reserved around one Task blob: SignedEnvelope (key id, signature), TaskBatch table, agent id, request id.
  std::uint64_t task_overhead = 4096;
  /// Bytes reserved in a Result besides its tensors: ids, digests, error text, device info, timings, envelope.
  std::uint64_t result_overhead = 8192;
  std::uint64_t max_units = 1'000'000;  // a job expanding to more is refused (a typo in a tile size)
};

/// One work unit: a Task template (everything but agent_id, attempt and times) and what matching needs.
struct work_unit {
  std::uint64_t index = 0;                 // position in the job, from 0
  std::string unit_id;                     // "<job_id>/<index>"
  protocol::task task;                     // task_id = unit_id; agent_id, attempt, issued/expires are set when issued
  std::uint64_t task_bytes = 0;            // Task blob size + task_overhead: what one task adds to a TaskBatch
  std::uint64_t result_bytes = 0;          // bound on the Result message carrying the outputs
  std::uint64_t largest_tensor_bytes = 0;  // biggest single buffer (device max_buffer_bytes must hold it)
  double cost = 0;                         // declared cost for credits: flops, or bytes moved for integer kernels
  std::string label;                       // where it sits in the job, for humans ("tile x=0..255 y=0..255")
};

/// Whether every tensor of the kernel's ABI shares its first axis, so that rows are independent units.
bool splits_by_rows(const kernels::kernel_spec& spec);

/// Reads an input file's bytes (injectable for tests; the default reads the file).
using file_reader = std::function<result<protocol::bytes>(const std::string& path)>;

/// Reads a whole file.
result<protocol::bytes> read_whole_file(const std::string& path);

/// A parameter value as the given dtype (integers for integer dtypes, within their range).
result<protocol::param> make_param(const param_value& v, protocol::dtype type);

/// An input tensor's bytes from the job: inline values converted to its dtype, or its file (of exactly the size).
result<protocol::tensor> make_input_tensor(const input_tensor& in, const file_reader& read);

/// Expands a parsed job into work units with ids "<job_id>/<index>"; refuses a job whose smallest unit cannot fit.
result<std::vector<work_unit>> expand_job(const job_spec& job, const std::string& job_id,
                                          const expansion_limits& limits = {},
                                          const file_reader& read = read_whole_file);

/// Unit `index` of a job from its Task template (kernel, params, inputs, declared outputs and validation set by the
/// caller; `output_bytes` the size of each declared output): sets the ids and min_memory_bytes, the largest tensor
/// and the wire sizes, and refuses a unit whose task or result cannot fit the message cap (`task_holds` names what
/// the task carries, `hint` what to change). The caller sets the cost.
result<work_unit> make_work_unit(protocol::task task, const std::vector<std::uint64_t>& output_bytes,
                                 std::uint64_t index, const std::string& job_id, std::string label,
                                 const expansion_limits& limits, std::string_view task_holds, std::string_view hint);

/// Bound on a Result message carrying these outputs (the agent's admission applies the same kind of bound).
std::uint64_t result_wire_bound(const std::vector<protocol::tensor>& declared_outputs, std::uint64_t overhead);

/// The task id of replica `replica` (0, 1, ...) of a unit: "<unit_id>/r<replica>".
std::string replica_task_id(const std::string& unit_id, std::uint32_t replica);

/// A concrete Task for one agent: the unit's template with task id, attempt, agent and validity window filled in.
protocol::task issue_task(const work_unit& unit, std::uint32_t replica, std::uint32_t attempt,
                          const std::string& agent_id, std::uint64_t issued_at_ms, std::uint64_t expires_at_ms);

}  // namespace ec::aggregator
