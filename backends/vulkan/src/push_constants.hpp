// The push-constant block of a call's scalars, laid out as std430 places the members of a
// `layout(push_constant)` block (protocol.md, "Custom kernels"): each scalar at the next offset aligned to its own
// size, so a u32 followed by an f64 leaves a 4-byte gap at offset 4 and the f64 sits at offset 8.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "ec/kernels/kernel_spec.hpp"

namespace ec::backends::vulkan {

/// Bytes of the block holding `scalars` (0 for none); a multiple of 4, as vkCmdPushConstants requires.
std::uint32_t push_constant_bytes(std::span<const kernels::scalar_arg> scalars);

/// The block's bytes (push_constant_bytes long): each scalar's little-endian bit pattern at its std430 offset,
/// the alignment gaps zeroed.
std::vector<std::uint8_t> pack_push_constants(std::span<const kernels::scalar_arg> scalars);

}  // namespace ec::backends::vulkan
