// Everything one run creates on the device (buffers, pools, fence), freed together. A run that times out hands
// its resources to the device, which frees them only once their fence has signalled: Vulkan cannot cancel a
// dispatch, and freeing memory a running shader still uses would be undefined behaviour.
#pragma once

#include <volk.h>

#include <chrono>
#include <cstdint>
#include <vector>

#include "buffers.hpp"
#include "ec/protocol/error.hpp"

namespace ec::backends::vulkan {

class run_resources {
 public:
  using clock = std::chrono::steady_clock;

  run_resources(const VolkDeviceTable& vk, VkDevice device) : vk_(vk), device_(device) {}
  ~run_resources();
  run_resources(const run_resources&) = delete;
  run_resources& operator=(const run_resources&) = delete;

  /// Creates the command pool, a descriptor pool for one set of `bindings` storage buffers, and the fence.
  result<void> init(std::uint32_t queue_family, std::uint32_t bindings);
  /// A fresh primary command buffer in the recording state.
  result<VkCommandBuffer> begin_commands();
  /// Ends `cmd`, submits it and waits until it finishes or `deadline` passes (`timeout`; the work stays queued).
  result<void> submit_and_wait(VkQueue queue, VkCommandBuffer cmd, clock::time_point deadline);
  /// Whether nothing submitted is still running (true when nothing was submitted).
  [[nodiscard]] bool idle() const;

  [[nodiscard]] VkDescriptorPool descriptor_pool() const { return descriptor_pool_; }

  std::vector<buffer> storage;      // inputs then outputs, as bound to set 0
  std::vector<buffer> staging;      // one per storage buffer when the device memory is not mapped
  std::vector<VkDeviceSize> sizes;  // bytes bound per storage buffer (padded tensor size; buffers may be larger)

 private:
  const VolkDeviceTable& vk_;
  VkDevice device_;
  VkCommandPool command_pool_ = VK_NULL_HANDLE;
  VkDescriptorPool descriptor_pool_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
  bool submitted_ = false;
};

}  // namespace ec::backends::vulkan
