// Admission answers every first-seen task addressed to this agent that it will not run, with a reason the
// operator can act on, so the aggregator reassigns it at once instead of waiting for the lease to expire.
#include "ec/agent/task_admission.hpp"

#include "custom_admission.hpp"
#include "custom_kernels.hpp"
#include "ec/kernels/catalog.hpp"

namespace ec::agent {
namespace {

using protocol::result_status;

admission_result answer(result_status status, std::string reason) {
  admission_result r;
  r.verdict = admission_verdict::answer;
  r.status = status;
  r.reason = std::move(reason);
  return r;
}

std::string shape_text(const std::vector<std::uint64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// The task's declared outputs must be exactly what the kernel will produce: the aggregator validates results
// against them, so a mismatch is a bad task, not something to run and hope.
std::string declared_outputs_problem(const protocol::task_view& task, const kernels::bound_call& call) {
  const auto declared = task.outputs();
  if (declared.size() != call.outputs.size())
    return "task declares " + std::to_string(declared.size()) + " outputs, kernel produces " +
           std::to_string(call.outputs.size());
  for (std::size_t i = 0; i < declared.size(); ++i) {
    const auto& d = declared[i];
    const auto& o = call.outputs[i];
    if (d.name != o.name || d.type != o.type || d.shape != o.shape)
      return "declared output " + std::to_string(i) + " is '" + std::string(d.name) + "' " +
             std::string(protocol::to_string(d.type)) + shape_text(d.shape) + ", kernel produces '" + o.name + "' " +
             std::string(protocol::to_string(o.type)) + shape_text(o.shape);
  }
  return {};
}

}  // namespace

std::uint64_t result_size_bound(const std::vector<kernels::output_spec>& outputs) {
  std::uint64_t n = 4096;  // ids, digests, device info, timings, envelope and signature
  for (const auto& o : outputs) n += o.bytes + o.name.size() + 16 + 8 * o.shape.size() + 64;
  return n;
}

std::string task_admission::device_limits_problem(const protocol::task_view& task,
                                                  const kernels::bound_call& call) const {
  std::uint64_t largest = 0;
  for (const auto& t : call.inputs) largest = std::max<std::uint64_t>(largest, t.data.size());
  for (const auto& o : call.outputs) largest = std::max(largest, o.bytes);
  std::string why = "no device passed the self-test of kernel '" + std::string(task.kernel()) + "'";
  for (const auto& group : selector_.resource_groups()) {
    const auto* d = selector_.choose(task.kernel(), group, task.backend_hint());
    if (!d) continue;
    if (d->info.memory_bytes && task.min_memory_bytes() > d->info.memory_bytes) {
      why = "task needs " + std::to_string(task.min_memory_bytes()) + " bytes of memory, " + d->dev->id() + " has " +
            std::to_string(d->info.memory_bytes);
      continue;
    }
    if (largest > d->info.max_buffer_bytes) {
      why = "a tensor of " + std::to_string(largest) + " bytes exceeds the largest buffer of " + d->dev->id() + " (" +
            std::to_string(d->info.max_buffer_bytes) + ")";
      continue;
    }
    return {};
  }
  return why;
}

// Any device of a backend the code targets will do; the first misfit's reason is kept for the answer.
std::string task_admission::custom_device_problem(const protocol::task_view& task) const {
  std::string why = "no device of a backend the code targets (SPIR-V: vulkan, OpenCL C: opencl)";
  for (const auto* d : selector_.devices_in()) {
    if (!ec::agent::custom_runs_on(task, d->info.backend)) continue;
    if (auto p = ec::agent::custom_device_problem(task, d->info); !p.empty()) {
      why = d->dev->id() + ": " + p;
      continue;
    }
    return {};
  }
  return why;
}

admission_result task_admission::check_custom(const protocol::task_view& task) const {
  if (!limits_.allow_custom_kernels)
    return answer(result_status::unsupported,
                  "custom kernels are disabled by configuration (trust.allow_custom_kernels)");
  if (auto p = custom_code_shape_problem(task); !p.empty()) return answer(result_status::rejected, p);
  if (auto p = custom_signature_problem(task, code_trust_); !p.empty())
    return answer(result_status::rejected, "custom code refused: " + p);
  if (auto p = custom_params_problem(task); !p.empty()) return answer(result_status::unsupported, p);
  // The declared outputs are what the code writes (there is no ABI to derive them from): all must fit a Result.
  std::vector<kernels::output_spec> outputs;
  for (const auto& o : task.outputs()) {
    const auto bytes = protocol::tensor_byte_size(o.type, o.shape);
    if (!bytes) return answer(result_status::rejected, "declared output '" + std::string(o.name) + "' overflows");
    outputs.push_back({std::string(o.name), o.type, o.shape, *bytes});
  }
  if (outputs.empty()) return answer(result_status::rejected, "a custom task must declare at least one output");
  const auto bound = result_size_bound(outputs);
  if (bound > limits_.max_payload_bytes)
    return answer(result_status::rejected, "outputs need about " + std::to_string(bound) +
                                               " bytes, more than the message cap of " +
                                               std::to_string(limits_.max_payload_bytes));
  if (auto p = custom_device_problem(task); !p.empty()) return answer(result_status::unsupported, p);
  // Admitted without a bound call (call.spec stays null): the executor runs custom_call_for(task).
  admission_result r;
  r.verdict = admission_verdict::admit;
  r.output_bytes = bound;
  return r;
}

admission_result task_admission::check(const protocol::task_view& task, std::string_view agent_id,
                                       std::uint64_t aggregator_now_ms) const {
  if (task.agent_id() != agent_id) return {};  // a blob inside our batch naming another agent: forged or buggy
  if (task.expires_at_ms() <= aggregator_now_ms)
    return answer(result_status::expired, "expired at " + std::to_string(task.expires_at_ms()) +
                                              ", aggregator time is " + std::to_string(aggregator_now_ms));
  if (task.expires_at_ms() < task.issued_at_ms() || task.expires_at_ms() - task.issued_at_ms() > limits_.max_validity_ms)
    return answer(result_status::rejected, "validity window exceeds " + std::to_string(limits_.max_validity_ms) + " ms");
  if (task.is_custom()) return check_custom(task);
  const auto* spec = kernels::find_kernel(task.kernel());
  if (!spec) return answer(result_status::unsupported, "unknown kernel '" + std::string(task.kernel()) + "'");
  if (task.kernel_version() != 0 && task.kernel_version() != spec->version)
    return answer(result_status::unsupported, "kernel '" + std::string(spec->name) + "' is version " +
                                                  std::to_string(spec->version) + ", task wants " +
                                                  std::to_string(task.kernel_version()));
  const auto params = task.params();
  const auto inputs = task.inputs();
  auto call = spec->bind(params, inputs);
  if (!call) return answer(result_status::rejected, call.err().message);
  if (auto p = declared_outputs_problem(task, *call); !p.empty()) return answer(result_status::rejected, p);
  const auto bound = result_size_bound(call->outputs);
  if (bound > limits_.max_payload_bytes)
    return answer(result_status::rejected, "outputs need about " + std::to_string(bound) +
                                               " bytes, more than the message cap of " +
                                               std::to_string(limits_.max_payload_bytes));
  if (auto p = device_limits_problem(task, *call); !p.empty()) return answer(result_status::unsupported, p);
  admission_result r;
  r.verdict = admission_verdict::admit;
  r.output_bytes = bound;
  r.call = std::move(*call);
  return r;
}

}  // namespace ec::agent
