// Turning VkResult codes into ec::error values: every failed Vulkan call becomes `device_error` naming the call
// and the VkResult, except allocation failures, which are `out_of_memory` (the caller may retry smaller).
#pragma once

#include <volk.h>

#include <string_view>

#include "ec/protocol/error.hpp"

namespace ec::backends::vulkan {

/// "VK_ERROR_DEVICE_LOST", ...; "VkResult(<n>)" for a value this build does not know.
std::string vk_result_name(VkResult r);

/// An error for a failed call: "vkQueueSubmit failed: VK_ERROR_DEVICE_LOST".
error vk_error(std::string_view call, VkResult r);

}  // namespace ec::backends::vulkan

/// Returns the error from the enclosing function (whose type converts from ec::error) when `expr` fails.
#define EC_VK_TRY(expr)                                           \
  do {                                                            \
    if (const VkResult ec_vk_r_ = (expr); ec_vk_r_ != VK_SUCCESS) \
      return ::ec::backends::vulkan::vk_error(#expr, ec_vk_r_);   \
  } while (false)
