// A result never carries outputs without their digest, nor a digest without outputs: the aggregator recomputes
// the digest from the outputs and refuses a mismatch, so both are built here from the same tensors.
#include "ec/agent/result_builder.hpp"

#include "ec/protocol/digests.hpp"
#include "ec/protocol/messages.hpp"

namespace ec::agent {
namespace {

protocol::task_result base(const task_identity& task, std::string_view agent_id, protocol::result_status status,
                           std::uint64_t finished_at_ms) {
  protocol::task_result r;
  r.task_id = task.task_id;
  r.job_id = task.job_id;
  r.attempt = task.attempt;
  r.agent_id = std::string(agent_id);
  r.task_digest.assign(task.task_digest.begin(), task.task_digest.end());
  r.status = status;
  r.finished_at_ms = finished_at_ms;
  return r;
}

}  // namespace

protocol::bytes build_result_blob(const task_identity& task, std::string_view agent_id, const execution_outcome& o,
                                  std::uint64_t finished_at_ms) {
  auto r = base(task, agent_id, o.status, finished_at_ms);
  r.error = o.error;
  if (o.status == protocol::result_status::ok) {
    r.outputs = o.outputs;
    std::vector<protocol::tensor_ref> refs;
    for (const auto& t : r.outputs) refs.push_back(t.ref());
    const auto digest = protocol::output_digest(refs);
    r.output_digest.assign(digest.begin(), digest.end());
  }
  if (!o.device.backend.empty()) {
    r.device = o.device;
    r.device->kernels.clear();  // the hello carries the device's kernel list; a result needs only its identity
    r.device->kernel_versions.clear();
  }
  r.timing = protocol::timings{o.queued_us, o.timings.compile_us, o.timings.upload_us, o.timings.exec_us,
                               o.timings.download_us, o.total_us};
  return protocol::build(r);
}

protocol::bytes build_answer_blob(const task_identity& task, std::string_view agent_id, protocol::result_status status,
                                  std::string reason, std::uint64_t finished_at_ms) {
  auto r = base(task, agent_id, status, finished_at_ms);
  r.error = std::move(reason);
  return protocol::build(r);
}

}  // namespace ec::agent
