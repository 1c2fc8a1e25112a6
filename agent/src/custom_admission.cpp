// Custom code is checked in the cheapest order: its shape (no crypto), then its signature (one ECDSA verify),
// then its fit on a device. A device's limits are judged from its DeviceInfo, so nothing is compiled to refuse.
#include "custom_admission.hpp"

#include <algorithm>

#include "ec/protocol/code_signature.hpp"

namespace ec::agent {
namespace {

constexpr std::size_t max_entry_length = 128;
constexpr std::size_t max_custom_rank = 3;  // x, y, z: what vkCmdDispatch and clEnqueueNDRangeKernel take

bool is_identifier(std::string_view s) {
  if (s.empty() || s.size() > max_entry_length) return false;
  const auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!alpha(s.front())) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) { return alpha(c) || (c >= '0' && c <= '9'); });
}

std::string_view str(const flatbuffers::String* s) { return s ? s->string_view() : std::string_view{}; }

protocol::byte_span span_of(const flatbuffers::Vector<std::uint8_t>* v) {
  return v ? protocol::byte_span{v->data(), v->size()} : protocol::byte_span{};
}

std::size_t size_of(const auto* v) { return v ? v->size() : 0; }

std::string list_text(const auto* v) {
  std::string s = "[";
  for (std::size_t i = 0; v && i < v->size(); ++i)
    s += (i ? ", " : "") + std::to_string(v->Get(static_cast<unsigned>(i)));
  return s + "]";
}

std::string tensor_problem(const std::vector<protocol::tensor_ref>& tensors, std::string_view role,
                           const protocol::device_info& device) {
  for (const auto& t : tensors) {
    const auto bytes = protocol::tensor_byte_size(t.type, t.shape);
    if (!bytes) return std::string(role) + " '" + std::string(t.name) + "' has a shape whose size overflows";
    if (*bytes > device.max_buffer_bytes)
      return std::string(role) + " '" + std::string(t.name) + "' is " + std::to_string(*bytes) + " bytes; " +
             device.name + " binds at most " + std::to_string(device.max_buffer_bytes) + " bytes per buffer";
  }
  return {};
}

}  // namespace

std::string custom_signature_problem(const protocol::task_view& task, const protocol::trust_store* trust) {
  const auto* c = task.wire().custom();
  if (!c) return "task carries no custom code";
  if (!trust) return "no trust.code_keys are loaded";
  const protocol::code_to_sign code{span_of(c->spirv()), str(c->opencl_c()), str(c->entry())};
  auto r = protocol::verify_code(code, span_of(c->code_key_id()), span_of(c->code_signature()), *trust);
  return r ? std::string{} : r.err().message;
}

std::string custom_code_shape_problem(const protocol::task_view& task) {
  const auto* c = task.wire().custom();
  if (!c) return "task carries no custom code";
  if (!is_identifier(str(c->entry())))
    return "custom kernel entry must be an identifier of at most " + std::to_string(max_entry_length) + " characters";
  if (size_of(c->spirv()) == 0 && str(c->opencl_c()).empty())
    return "custom kernel carries neither SPIR-V nor OpenCL C";
  if (size_of(c->spirv()) % 4 != 0) return "custom SPIR-V is not a whole number of 32-bit words";
  const auto rank = size_of(c->local_size());
  if (rank < 1 || rank > max_custom_rank || size_of(c->global_size()) != rank)
    return "custom kernel needs local_size and global_size of the same rank, 1, 2 or 3; got " +
           list_text(c->local_size()) + " and " + list_text(c->global_size());
  for (unsigned i = 0; i < rank; ++i) {
    const std::uint64_t local = c->local_size()->Get(i), global = c->global_size()->Get(i);
    if (local == 0 || global == 0) return "custom kernel local_size and global_size must not contain 0";
    // OpenCL 1.2 requires it, and on Vulkan it makes the dispatch exactly the declared global size.
    if (global % local != 0)
      return "custom kernel global_size " + list_text(c->global_size()) + " is not a multiple of local_size " +
             list_text(c->local_size());
  }
  return {};
}

bool custom_runs_on(const protocol::task_view& task, std::string_view backend) {
  const auto* c = task.wire().custom();
  if (!c) return false;
  if (backend == "vulkan") return size_of(c->spirv()) > 0;
  if (backend == "opencl") return !str(c->opencl_c()).empty();
  return false;
}

std::string custom_device_problem(const protocol::task_view& task, const protocol::device_info& device) {
  const auto* c = task.wire().custom();
  if (!c || size_of(c->local_size()) == 0) return "task carries no custom code";
  // Stops as soon as the product passes the limit, so it never wraps (both factors stay below 2^32).
  std::uint64_t invocations = 1;
  for (unsigned i = 0; i < c->local_size()->size() && invocations <= device.max_workgroup_size; ++i)
    invocations *= c->local_size()->Get(i);
  if (invocations > device.max_workgroup_size)
    return "custom local size " + list_text(c->local_size()) + " is " + std::to_string(invocations) + " invocations; " +
           device.name + " allows " + std::to_string(device.max_workgroup_size);
  // Both GPU backends launch at most this many groups per dimension (the OpenCL one clamps catalogue kernels).
  for (unsigned i = 0; i < c->global_size()->size(); ++i) {
    const std::uint64_t groups = c->global_size()->Get(i) / c->local_size()->Get(i);
    if (groups > portable_max_groups_per_dimension)
      return "custom dispatch of " + std::to_string(groups) + " workgroups in dimension " + std::to_string(i) +
             " exceeds " + std::to_string(portable_max_groups_per_dimension);
  }
  for (const auto& p : task.params())
    if (p.type == protocol::dtype::f64 && !device.fp64)
      return "custom kernel param '" + p.name + "' is f64; " + device.name + " has no 64-bit floats";
  if (auto p = tensor_problem(task.inputs(), "input", device); !p.empty()) return p;
  return tensor_problem(task.outputs(), "output", device);
}

}  // namespace ec::agent
