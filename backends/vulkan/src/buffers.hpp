// Storage buffers of one run: device-local memory the host maps directly where the device allows it (lavapipe,
// integrated GPUs, resizable BAR), else device-local memory filled and drained through host-visible staging.
#pragma once

#include <volk.h>

#include <cstddef>
#include <cstdint>

#include "ec/protocol/error.hpp"

namespace ec::backends::vulkan {

/// True when tensors can live in mapped device-local memory (no staging): a device-local, host-visible and
/// host-coherent memory type in the largest device-local heap (not a 256 MiB BAR window).
bool maps_device_memory(const VkPhysicalDeviceMemoryProperties& memory);

/// Bytes a tensor of `bytes` occupies on the device: a multiple of 4 (shaders read u8 tensors as uint words)
/// and at least 16 (zero-size tensors still need a buffer to bind).
std::uint64_t padded_size(std::uint64_t bytes);

/// What a buffer is for; decides its usage flags and memory type.
enum class buffer_role : std::uint8_t {
  mapped_storage,  // storage buffer in device-local, host-mapped memory
  storage,         // storage buffer in device-local memory, reached through staging
  upload,          // host-visible staging, copied to a storage buffer
  download,        // host-visible staging (host-cached where offered), copied from a storage buffer
};

/// A VkBuffer with its own VkDeviceMemory (runs bind a handful of buffers: no sub-allocator needed), mapped
/// for the roles the host touches. Move-only; frees itself.
class buffer {
public:
  buffer() = default;
  static result<buffer> create(const VolkDeviceTable& vk, VkDevice device, const VkPhysicalDeviceMemoryProperties& memory,
                               VkDeviceSize size, buffer_role role);
  ~buffer() { reset(); }
  buffer(buffer&& other) noexcept { *this = std::move(other); }
  buffer& operator=(buffer&& other) noexcept;
  buffer(const buffer&) = delete;
  buffer& operator=(const buffer&) = delete;

  [[nodiscard]] VkBuffer handle() const { return buffer_; }
  [[nodiscard]] VkDeviceSize size() const { return size_; }
  /// Host address of the memory; nullptr for role `storage`.
  [[nodiscard]] std::byte* mapped() const { return static_cast<std::byte*>(mapped_); }

private:
  void reset() noexcept;
  const VolkDeviceTable* vk_ = nullptr;
  VkDevice device_ = VK_NULL_HANDLE;
  VkBuffer buffer_ = VK_NULL_HANDLE;
  VkDeviceMemory memory_ = VK_NULL_HANDLE;
  VkDeviceSize size_ = 0;
  void* mapped_ = nullptr;
};

}  // namespace ec::backends::vulkan
