// Per-run pools rather than shared ones: creating a command pool and a one-set descriptor pool costs
// microseconds, and keeps a timed-out run's objects separate from the next run's.
#include "run_resources.hpp"

#include <algorithm>

#include "vk_check.hpp"

namespace ec::backends::vulkan {

run_resources::~run_resources() {
  storage.clear();
  staging.clear();
  if (fence_ != VK_NULL_HANDLE) vk_.vkDestroyFence(device_, fence_, nullptr);
  if (descriptor_pool_ != VK_NULL_HANDLE) vk_.vkDestroyDescriptorPool(device_, descriptor_pool_, nullptr);
  if (command_pool_ != VK_NULL_HANDLE) vk_.vkDestroyCommandPool(device_, command_pool_, nullptr);
}

result<void> run_resources::init(std::uint32_t queue_family, std::uint32_t bindings) {
  VkCommandPoolCreateInfo cp{};
  cp.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO;
  cp.flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT;
  cp.queueFamilyIndex = queue_family;
  EC_VK_TRY(vk_.vkCreateCommandPool(device_, &cp, nullptr, &command_pool_));

  const VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, std::max(bindings, 1u)};
  VkDescriptorPoolCreateInfo dp{};
  dp.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO;
  dp.maxSets = 1;
  dp.poolSizeCount = 1;
  dp.pPoolSizes = &size;
  EC_VK_TRY(vk_.vkCreateDescriptorPool(device_, &dp, nullptr, &descriptor_pool_));

  VkFenceCreateInfo fi{};
  fi.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO;
  EC_VK_TRY(vk_.vkCreateFence(device_, &fi, nullptr, &fence_));
  return {};
}

result<VkCommandBuffer> run_resources::begin_commands() {
  VkCommandBufferAllocateInfo ai{};
  ai.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO;
  ai.commandPool = command_pool_;
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  VkCommandBuffer cmd = VK_NULL_HANDLE;
  EC_VK_TRY(vk_.vkAllocateCommandBuffers(device_, &ai, &cmd));
  VkCommandBufferBeginInfo bi{};
  bi.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO;
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  EC_VK_TRY(vk_.vkBeginCommandBuffer(cmd, &bi));
  return cmd;
}

result<void> run_resources::submit_and_wait(VkQueue queue, VkCommandBuffer cmd, clock::time_point deadline) {
  EC_VK_TRY(vk_.vkEndCommandBuffer(cmd));
  const auto now = clock::now();
  if (now >= deadline) return fail(error_code::timeout, "deadline passed before the submission");
  if (submitted_) EC_VK_TRY(vk_.vkResetFences(device_, 1, &fence_));
  VkSubmitInfo si{};
  si.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO;
  si.commandBufferCount = 1;
  si.pCommandBuffers = &cmd;
  EC_VK_TRY(vk_.vkQueueSubmit(queue, 1, &si, fence_));
  submitted_ = true;
  const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - clock::now()).count();
  const VkResult r = vk_.vkWaitForFences(device_, 1, &fence_, VK_TRUE, left > 0 ? static_cast<std::uint64_t>(left) : 0);
  if (r == VK_TIMEOUT)
    return fail(error_code::timeout,
                "deadline passed while the device was busy (Vulkan cannot cancel a dispatch; the work continues)");
  if (r != VK_SUCCESS) return vk_error("vkWaitForFences", r);
  return {};
}

bool run_resources::idle() const { return !submitted_ || vk_.vkGetFenceStatus(device_, fence_) != VK_NOT_READY; }

}  // namespace ec::backends::vulkan
