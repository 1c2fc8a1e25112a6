// VkResult names (the Vulkan headers here ship no vk_enum_string_helper.h).
#include "vk_check.hpp"

#include <string>

namespace ec::backends::vulkan {

std::string vk_result_name(VkResult r) {
  switch (r) {
#define EC_VK_NAME(x) \
  case x:             \
    return #x;
    EC_VK_NAME(VK_SUCCESS)
    EC_VK_NAME(VK_NOT_READY)
    EC_VK_NAME(VK_TIMEOUT)
    EC_VK_NAME(VK_EVENT_SET)
    EC_VK_NAME(VK_EVENT_RESET)
    EC_VK_NAME(VK_INCOMPLETE)
    EC_VK_NAME(VK_ERROR_OUT_OF_HOST_MEMORY)
    EC_VK_NAME(VK_ERROR_OUT_OF_DEVICE_MEMORY)
    EC_VK_NAME(VK_ERROR_INITIALIZATION_FAILED)
    EC_VK_NAME(VK_ERROR_DEVICE_LOST)
    EC_VK_NAME(VK_ERROR_MEMORY_MAP_FAILED)
    EC_VK_NAME(VK_ERROR_LAYER_NOT_PRESENT)
    EC_VK_NAME(VK_ERROR_EXTENSION_NOT_PRESENT)
    EC_VK_NAME(VK_ERROR_FEATURE_NOT_PRESENT)
    EC_VK_NAME(VK_ERROR_INCOMPATIBLE_DRIVER)
    EC_VK_NAME(VK_ERROR_TOO_MANY_OBJECTS)
    EC_VK_NAME(VK_ERROR_FORMAT_NOT_SUPPORTED)
    EC_VK_NAME(VK_ERROR_FRAGMENTED_POOL)
    EC_VK_NAME(VK_ERROR_UNKNOWN)
    EC_VK_NAME(VK_ERROR_OUT_OF_POOL_MEMORY)
    EC_VK_NAME(VK_ERROR_INVALID_EXTERNAL_HANDLE)
    EC_VK_NAME(VK_ERROR_FRAGMENTATION)
    EC_VK_NAME(VK_ERROR_INVALID_OPAQUE_CAPTURE_ADDRESS)
    EC_VK_NAME(VK_PIPELINE_COMPILE_REQUIRED)
    EC_VK_NAME(VK_ERROR_VALIDATION_FAILED_EXT)
    EC_VK_NAME(VK_ERROR_INVALID_SHADER_NV)
    EC_VK_NAME(VK_ERROR_NOT_PERMITTED_KHR)
#undef EC_VK_NAME
    default:
      return "VkResult(" + std::to_string(static_cast<int>(r)) + ")";
  }
}

error vk_error(std::string_view call, VkResult r) {
  // Strip the argument list: "vkQueueSubmit(queue_, 1, &si, f)" reads better as "vkQueueSubmit".
  const auto paren = call.find('(');
  if (paren != std::string_view::npos) call = call.substr(0, paren);
  const auto dot = call.find_last_of(".>");  // "vk_.vkQueueSubmit" or "vk->vkQueueSubmit": a device table
  if (dot != std::string_view::npos) call = call.substr(dot + 1);
  const auto code = (r == VK_ERROR_OUT_OF_HOST_MEMORY || r == VK_ERROR_OUT_OF_DEVICE_MEMORY) ? error_code::out_of_memory
                                                                                             : error_code::device_error;
  return fail(code, std::string(call) + " failed: " + vk_result_name(r));
}

}  // namespace ec::backends::vulkan
