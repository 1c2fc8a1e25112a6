// Params of custom kernels are bound as 4- or 8-byte scalars by dtype (push constants at std430 offsets / scalar
// arguments, protocol.md): an integer param is its value, checked to fit its dtype (a u64 takes the
// non-negative values of the wire's 64-bit `i`); a float param is the IEEE-754 bit pattern of its dtype.
#include "custom_kernels.hpp"

#include <bit>
#include <limits>

namespace ec::agent {
namespace {

kernels::scalar_arg wide_scalar(kernels::scalar_kind kind, std::uint64_t bits) {
  return {{}, kind, static_cast<std::uint32_t>(bits), static_cast<std::uint32_t>(bits >> 32)};
}

std::optional<kernels::scalar_arg> scalar_of(const protocol::param& p) {
  switch (p.type) {
    case protocol::dtype::u32:
      if (p.i < 0 || p.i > std::numeric_limits<std::uint32_t>::max()) return std::nullopt;
      return kernels::scalar_arg{{}, kernels::scalar_kind::u32, static_cast<std::uint32_t>(p.i)};
    case protocol::dtype::i32:
      if (p.i < std::numeric_limits<std::int32_t>::min() || p.i > std::numeric_limits<std::int32_t>::max())
        return std::nullopt;
      return kernels::scalar_arg{
          {}, kernels::scalar_kind::i32, static_cast<std::uint32_t>(static_cast<std::int32_t>(p.i))};
    case protocol::dtype::f32:
      return kernels::scalar_arg{{}, kernels::scalar_kind::f32, std::bit_cast<std::uint32_t>(static_cast<float>(p.f))};
    case protocol::dtype::u64:
      if (p.i < 0) return std::nullopt;
      return wide_scalar(kernels::scalar_kind::u64, static_cast<std::uint64_t>(p.i));
    case protocol::dtype::f64:
      return wide_scalar(kernels::scalar_kind::f64, std::bit_cast<std::uint64_t>(p.f));
    default:
      return std::nullopt;
  }
}

}  // namespace

std::string custom_params_problem(const protocol::task_view& task) {
  for (const auto& p : task.params())
    if (!scalar_of(p))
      return "custom kernel param '" + p.name + "' must be u32, i32, u64, f32 or f64 and within its range (" +
             std::string(protocol::to_string(p.type)) + " given)";
  return {};
}

std::optional<backends::custom_call> custom_call_for(const protocol::task_view& task) {
  const auto* c = task.wire().custom();
  if (!c) return std::nullopt;
  backends::custom_call call;
  auto& code = call.code;
  if (c->spirv()) code.spirv = {c->spirv()->data(), c->spirv()->size()};
  if (c->opencl_c()) code.opencl_c = c->opencl_c()->string_view();
  if (c->entry()) code.entry = c->entry()->string_view();
  const auto* local = c->local_size();
  const auto* global = c->global_size();
  code.dims = local ? std::min<std::uint32_t>(local->size(), 3) : 1;
  for (unsigned d = 0; d < code.dims && local && global && d < global->size(); ++d) {
    code.local[d] = local->Get(d);
    code.global[d] = global->Get(d);
  }
  call.inputs = task.inputs();
  for (const auto& p : task.params())
    if (auto s = scalar_of(p)) call.scalars.push_back(*s);
  for (const auto& o : task.outputs()) {
    const auto bytes = protocol::tensor_byte_size(o.type, o.shape);
    call.outputs.push_back({std::string(o.name), o.type, o.shape, bytes.value_or(0)});
  }
  return call;
}

const backends::device_entry* choose_custom_device(const backends::device_selector& selector,
                                                   const backends::custom_call& call, std::string_view resource_group,
                                                   std::string_view backend_hint) {
  const auto runs = [&](const backends::device_entry& d) {
    if (d.info.backend == "vulkan") return !call.code.spirv.empty();
    if (d.info.backend == "opencl") return !call.code.opencl_c.empty();
    return false;
  };
  const backends::device_entry* best = nullptr;
  int best_rank = 99;
  for (const auto* d : selector.devices_in(resource_group)) {
    if (!runs(*d)) continue;
    const int rank = d->info.backend == backend_hint ? 0 : d->info.backend == "vulkan" ? 1 : 2;
    if (rank < best_rank) best = d, best_rank = rank;
  }
  return best;
}

}  // namespace ec::agent
