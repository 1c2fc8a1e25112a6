// Storage buffers of one run: device-local memory the host maps directly where the device allows it (lavapipe,
// integrated GPUs, resizable BAR), else device-local memory filled and drained through host-visible staging.
#pragma once

#include <volk.h>

#include <cstddef>
#include <cstdint>
#include <vector>

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
  static result<buffer> create(const VolkDeviceTable& vk, VkDevice device,
                               const VkPhysicalDeviceMemoryProperties& memory, VkDeviceSize size, buffer_role role);
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

/// Buffers kept between runs, up to a byte budget, oldest dropped first. Why: a fresh allocation's pages are
/// faulted in on first touch, and on some hosts (VMs, lavapipe's malloc'd memory) that costs more than the copy
/// itself (measured here: 128 MiB fresh 430-570 ms, reused 9 ms). Not thread-safe: the device's mutex guards it.
class buffer_pool {
 public:
  buffer_pool(const VolkDeviceTable& vk, VkDevice device, const VkPhysicalDeviceMemoryProperties& memory,
              std::uint64_t max_buffer_bytes, std::uint64_t budget_bytes);
  /// A buffer of at least `size` bytes for `role`: a kept one of the same size class, or a new one.
  result<buffer> take(VkDeviceSize size, buffer_role role);
  /// Keeps `b` for a later take() (or frees it when the budget is exceeded).
  void give(buffer b, buffer_role role);
  /// Frees every kept buffer.
  void clear() {
    kept_.clear();
    kept_bytes_ = 0;
  }

 private:
  [[nodiscard]] std::uint64_t size_class(std::uint64_t size) const;
  struct entry {
    buffer_role role;
    buffer b;
  };
  const VolkDeviceTable& vk_;
  VkDevice device_;
  const VkPhysicalDeviceMemoryProperties& memory_;
  std::uint64_t max_buffer_bytes_, budget_;
  std::vector<entry> kept_;  // oldest first
  std::uint64_t kept_bytes_ = 0;
};

}  // namespace ec::backends::vulkan
