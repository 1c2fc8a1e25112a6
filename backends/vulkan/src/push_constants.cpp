// std430 offsets for scalars: 4-byte kinds align to 4, 8-byte kinds to 8 (Vulkan spec, "Offset and Stride
// Assignment"; the push-constant block of a GLSL shader uses std430). Vulkan hosts are little-endian.
#include "push_constants.hpp"

namespace ec::backends::vulkan {
namespace {

std::uint32_t align_up(std::uint32_t offset, std::uint32_t alignment) {
  return (offset + alignment - 1) / alignment * alignment;
}

void put_le(std::vector<std::uint8_t>& block, std::uint32_t offset, std::uint64_t bits, std::uint32_t bytes) {
  for (std::uint32_t i = 0; i < bytes; ++i) block[offset + i] = static_cast<std::uint8_t>(bits >> (8 * i));
}

}  // namespace

std::uint32_t push_constant_bytes(std::span<const kernels::scalar_arg> scalars) {
  std::uint32_t end = 0;
  for (const auto& s : scalars) {
    const auto size = kernels::scalar_bytes(s.kind);
    end = align_up(end, size) + size;
  }
  return end;
}

std::vector<std::uint8_t> pack_push_constants(std::span<const kernels::scalar_arg> scalars) {
  std::vector<std::uint8_t> block(push_constant_bytes(scalars), 0);
  std::uint32_t offset = 0;
  for (const auto& s : scalars) {
    const auto size = kernels::scalar_bytes(s.kind);
    offset = align_up(offset, size);
    put_le(block, offset, s.wide_bits(), size);
    offset += size;
  }
  return block;
}

}  // namespace ec::backends::vulkan
