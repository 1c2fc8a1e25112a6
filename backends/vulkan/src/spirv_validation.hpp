// SPIR-V validation with SPIRV-Tools before custom code reaches vkCreateShaderModule: drivers assume valid
// modules and may crash or hang on anything else, so untrusted (even if signed) code is validated first.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "ec/protocol/error.hpp"

namespace ec::backends::vulkan {

/// Success when `words` is a valid SPIR-V module for the Vulkan version `api_version` (VK_MAKE_API_VERSION);
/// otherwise `invalid_argument` carrying the validator's message.
result<void> validate_spirv(std::span<const std::uint32_t> words, std::uint32_t api_version);

/// On a validated module: a GLCompute entry point named `entry` exists, and its literal LocalSize (when the
/// workgroup size is not taken from specialization constants 0, 1 and 2) equals the declared local x, y, z.
/// `invalid_argument` otherwise.
result<void> check_entry_point(std::span<const std::uint32_t> words, std::string_view entry, std::uint32_t local_x,
                               std::uint32_t local_y, std::uint32_t local_z);

}  // namespace ec::backends::vulkan
