// What a kernel's SPIR-V asks of a device (its version and OpCapability list), checked against device_caps so
// that supports() and run() refuse a kernel before vkCreateShaderModule would fail or misbehave.
#pragma once

#include <cstdint>
#include <span>

#include "ec/protocol/error.hpp"
#include "physical_device.hpp"

namespace ec::backends::vulkan {

/// Success when the device can run the module; otherwise `unsupported` naming the first missing capability.
result<void> check_spirv(std::span<const std::uint32_t> words, const device_caps& caps);

}  // namespace ec::backends::vulkan
