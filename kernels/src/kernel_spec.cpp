// Kernel-independent helpers of the catalogue: the serial parallel_for, kernel hashes and reference runs.
#include "ec/kernels/kernel_spec.hpp"

#include "ec/protocol/sha256.hpp"

namespace ec::kernels {

void serial_for(std::uint64_t count, const std::function<void(std::uint64_t, std::uint64_t)>& body) {
  if (count > 0) body(0, count);
}

std::array<std::uint8_t, 32> kernel_hash(const kernel_spec& spec) {
  protocol::sha256 h;
  h.update_u32_le(static_cast<std::uint32_t>(spec.name.size()));
  h.update(protocol::as_bytes(spec.name));
  h.update_u32_le(spec.version);
  h.update(protocol::byte_span(reinterpret_cast<const std::uint8_t*>(spec.spirv.data()), spec.spirv.size_bytes()));
  h.update(protocol::as_bytes(spec.opencl_source));
  return h.finish();
}

std::vector<tensor> run_reference(const bound_call& call, const parallel_for& pf) {
  std::vector<tensor> outs;
  std::vector<std::span<std::byte>> spans;
  outs.reserve(call.outputs.size());
  for (const auto& o : call.outputs) {
    outs.push_back(tensor{o.name, o.type, o.shape, protocol::bytes(o.bytes)});
  }
  for (auto& t : outs) spans.emplace_back(reinterpret_cast<std::byte*>(t.data.data()), t.data.size());
  call.spec->reference(call, spans, pf);
  return outs;
}

}  // namespace ec::kernels
