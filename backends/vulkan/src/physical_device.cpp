// Physical-device queries. Structures newer than the device's API version are only chained when the device
// reports that version (chaining them otherwise is invalid usage and the validation layer says so).
#include "physical_device.hpp"

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace ec::backends::vulkan {
namespace {

protocol::device_type to_device_type(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
      return protocol::device_type::integrated_gpu;
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
      return protocol::device_type::discrete_gpu;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
      return protocol::device_type::virtual_gpu;
    case VK_PHYSICAL_DEVICE_TYPE_CPU:
      return protocol::device_type::cpu;
    default:
      return protocol::device_type::other;
  }
}

bool has_device_extension(VkPhysicalDevice physical, const char* name) {
  std::uint32_t n = 0;
  if (vkEnumerateDeviceExtensionProperties(physical, nullptr, &n, nullptr) != VK_SUCCESS) return false;
  std::vector<VkExtensionProperties> exts(n);
  if (vkEnumerateDeviceExtensionProperties(physical, nullptr, &n, exts.data()) < 0) return false;
  return std::any_of(exts.begin(), exts.begin() + n,
                     [&](const VkExtensionProperties& e) { return std::strcmp(e.extensionName, name) == 0; });
}

// A compute-only family first: on GPUs it is the asynchronous compute engine, free of graphics work.
std::optional<std::uint32_t> compute_queue_family(VkPhysicalDevice physical) {
  std::uint32_t n = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(physical, &n, nullptr);
  std::vector<VkQueueFamilyProperties> families(n);
  vkGetPhysicalDeviceQueueFamilyProperties(physical, &n, families.data());
  std::optional<std::uint32_t> any;
  for (std::uint32_t i = 0; i < n; ++i) {
    if (families[i].queueCount == 0 || !(families[i].queueFlags & VK_QUEUE_COMPUTE_BIT)) continue;
    if (!(families[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)) return i;
    if (!any) any = i;
  }
  return any;
}

std::string version_string(std::uint32_t v) {
  return std::to_string(VK_API_VERSION_MAJOR(v)) + "." + std::to_string(VK_API_VERSION_MINOR(v)) + "." +
         std::to_string(VK_API_VERSION_PATCH(v));
}

}  // namespace

result<device_caps> query_device(VkPhysicalDevice physical, std::uint32_t index) {
  device_caps caps;
  caps.physical = physical;
  caps.index = index;

  VkPhysicalDeviceProperties base{};
  vkGetPhysicalDeviceProperties(physical, &base);
  const std::string name = base.deviceName;
  caps.api_version = base.apiVersion;
  if (caps.api_version < VK_API_VERSION_1_1)
    return fail(error_code::unsupported, name + ": Vulkan " + version_string(caps.api_version) + ", 1.1 needed");
  const auto family = compute_queue_family(physical);
  if (!family) return fail(error_code::unsupported, name + ": no compute queue");
  caps.queue_family = *family;
  const bool v12 = caps.api_version >= VK_API_VERSION_1_2;

  // Properties: IDs (deviceUUID), subgroups, maintenance3 (maxMemoryAllocationSize), driver name.
  VkPhysicalDeviceProperties2 props{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, nullptr, {}};
  VkPhysicalDeviceIDProperties ids{};
  ids.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES;
  VkPhysicalDeviceSubgroupProperties subgroups{};
  subgroups.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES;
  VkPhysicalDeviceMaintenance3Properties m3{};
  m3.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES;
  VkPhysicalDeviceDriverProperties driver{};
  driver.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES;
  props.pNext = &ids;
  ids.pNext = &subgroups;
  subgroups.pNext = &m3;
  const bool has_driver_props = v12 || has_device_extension(physical, VK_KHR_DRIVER_PROPERTIES_EXTENSION_NAME);
  if (has_driver_props) m3.pNext = &driver;
  vkGetPhysicalDeviceProperties2(physical, &props);

  // Features: only those a catalogue kernel may declare as SPIR-V capabilities (spirv_requirements.cpp).
  VkPhysicalDeviceFeatures2 features{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, nullptr, {}};
  VkPhysicalDeviceVulkan11Features f11{};
  f11.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES;
  VkPhysicalDeviceVulkan12Features f12{};
  f12.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES;
  if (v12) {  // the VulkanNN feature structures exist from 1.2 on; 1.1 devices get the core features only
    features.pNext = &f11;
    f11.pNext = &f12;
  }
  vkGetPhysicalDeviceFeatures2(physical, &features);
  auto& f = caps.features;
  f.float64 = features.features.shaderFloat64;
  f.int64 = features.features.shaderInt64;
  f.int16 = features.features.shaderInt16;
  f.storage16 = f11.storageBuffer16BitAccess;
  f.uniform_storage16 = f11.uniformAndStorageBuffer16BitAccess;
  f.float16 = f12.shaderFloat16;
  f.int8 = f12.shaderInt8;
  f.storage8 = f12.storageBuffer8BitAccess;
  f.uniform_storage8 = f12.uniformAndStorageBuffer8BitAccess;
  f.int64_atomics = f12.shaderBufferInt64Atomics;
  // With the memory model on and device scope off, Device-scope atomics are invalid (VUID-RuntimeSpirv-
  // vulkanMemoryModel-06265): enable the model only together with device scope.
  f.memory_model = f12.vulkanMemoryModel && f12.vulkanMemoryModelDeviceScope;

  vkGetPhysicalDeviceMemoryProperties(physical, &caps.memory);
  caps.limits = base.limits;
  std::memcpy(caps.pipeline_cache_uuid.data(), base.pipelineCacheUUID, VK_UUID_SIZE);
  caps.max_buffer_bytes = std::min<std::uint64_t>(base.limits.maxStorageBufferRange, m3.maxMemoryAllocationSize);
  caps.subgroup_size = subgroups.subgroupSize;
  caps.subgroup_ops = (subgroups.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) ? subgroups.supportedOperations : 0;

  auto& info = caps.info;
  info.backend = "vulkan";
  info.name = name;
  if (has_driver_props && driver.driverName[0] != '\0')
    info.driver = std::string(driver.driverName) + " " + driver.driverInfo;
  else  // driverVersion's encoding is vendor-specific: report it raw
    info.driver = "driverVersion " + std::to_string(base.driverVersion);
  info.driver += " (Vulkan " + version_string(caps.api_version) + ")";
  info.uuid.assign(ids.deviceUUID, ids.deviceUUID + VK_UUID_SIZE);
  info.type = to_device_type(base.deviceType);
  info.vendor_id = base.vendorID;
  info.device_id = base.deviceID;
  for (std::uint32_t h = 0; h < caps.memory.memoryHeapCount; ++h)
    if (caps.memory.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
      info.memory_bytes = std::max<std::uint64_t>(info.memory_bytes, caps.memory.memoryHeaps[h].size);
  info.max_buffer_bytes = caps.max_buffer_bytes;
  info.max_workgroup_size = base.limits.maxComputeWorkGroupInvocations;
  info.shared_memory_bytes = base.limits.maxComputeSharedMemorySize;
  info.subgroup_size = caps.subgroup_size;
  info.fp16 = f.float16;
  info.fp64 = f.float64;
  info.int8 = f.int8;
  return caps;
}

feature_chain::feature_chain(const device_caps& caps) {
  const auto& f = caps.features;
  core_.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2;
  core_.features.shaderFloat64 = f.float64;
  core_.features.shaderInt64 = f.int64;
  core_.features.shaderInt16 = f.int16;
  if (caps.api_version < VK_API_VERSION_1_2) return;
  v11_.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES;
  v11_.storageBuffer16BitAccess = f.storage16;
  v11_.uniformAndStorageBuffer16BitAccess = f.uniform_storage16;
  v12_.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES;
  v12_.shaderFloat16 = f.float16;
  v12_.shaderInt8 = f.int8;
  v12_.storageBuffer8BitAccess = f.storage8;
  v12_.uniformAndStorageBuffer8BitAccess = f.uniform_storage8;
  v12_.shaderBufferInt64Atomics = f.int64_atomics;
  v12_.vulkanMemoryModel = f.memory_model;
  v12_.vulkanMemoryModelDeviceScope = f.memory_model;
  core_.pNext = &v11_;
  v11_.pNext = &v12_;
}

}  // namespace ec::backends::vulkan
