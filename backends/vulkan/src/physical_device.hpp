// What one VkPhysicalDevice offers a compute task: its DeviceInfo, the limits runs are checked against, the
// shader features the device will be created with, and the queue family that runs the dispatches.
#pragma once

#include <volk.h>

#include <array>
#include <cstdint>

#include "ec/protocol/error.hpp"
#include "ec/protocol/messages.hpp"

namespace ec::backends::vulkan {

/// Optional shader features that are supported and therefore enabled when the device is created.
struct shader_features {
  bool float16 = false, float64 = false, int8 = false, int16 = false, int64 = false, int64_atomics = false;
  bool storage8 = false, uniform_storage8 = false, storage16 = false, uniform_storage16 = false;
  bool memory_model = false;
};

struct device_caps {
  VkPhysicalDevice physical = VK_NULL_HANDLE;
  std::uint32_t index = 0;  // position in vkEnumeratePhysicalDevices: the N of "vulkan:N"
  std::uint32_t api_version = 0;
  std::uint32_t queue_family = 0;
  VkPhysicalDeviceLimits limits{};
  VkPhysicalDeviceMemoryProperties memory{};
  std::array<std::uint8_t, VK_UUID_SIZE> pipeline_cache_uuid{};
  std::uint64_t max_buffer_bytes = 0;  // min(maxStorageBufferRange, maxMemoryAllocationSize)
  std::uint32_t subgroup_size = 0;
  VkSubgroupFeatureFlags subgroup_ops = 0;  // 0 when subgroup operations are not available to compute shaders
  shader_features features;
  protocol::device_info info;
};

/// Reads a physical device; `unsupported` when it has no compute queue or predates Vulkan 1.1.
result<device_caps> query_device(VkPhysicalDevice physical, std::uint32_t index);

/// The feature structures chained into VkDeviceCreateInfo::pNext, enabling exactly caps.features.
/// Not copyable: the structures point at each other.
class feature_chain {
 public:
  explicit feature_chain(const device_caps& caps);
  feature_chain(const feature_chain&) = delete;
  feature_chain& operator=(const feature_chain&) = delete;
  [[nodiscard]] const VkPhysicalDeviceFeatures2* head() const { return &core_; }

 private:
  VkPhysicalDeviceFeatures2 core_{};
  VkPhysicalDeviceVulkan11Features v11_{};
  VkPhysicalDeviceVulkan12Features v12_{};
};

}  // namespace ec::backends::vulkan
