// Buffer creation and memory-type choice. Host-visible memory is always host-coherent here so no flush or
// invalidate is needed; host-cached is preferred for read-back because reading write-combined memory is slow.
#include "buffers.hpp"

#include <algorithm>
#include <bit>
#include <optional>
#include <utility>

#include "vk_check.hpp"

namespace ec::backends::vulkan {
namespace {

constexpr VkMemoryPropertyFlags host_coherent =
    VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;

std::optional<std::uint32_t> find_type(const VkPhysicalDeviceMemoryProperties& memory, std::uint32_t allowed,
                                       VkMemoryPropertyFlags required, VkMemoryPropertyFlags preferred) {
  for (const VkMemoryPropertyFlags want : {required | preferred, required})
    for (std::uint32_t i = 0; i < memory.memoryTypeCount; ++i)
      if ((allowed & (1u << i)) && (memory.memoryTypes[i].propertyFlags & want) == want) return i;
  return std::nullopt;
}

}  // namespace

bool maps_device_memory(const VkPhysicalDeviceMemoryProperties& memory) {
  std::uint32_t largest = 0;
  VkDeviceSize largest_size = 0;
  for (std::uint32_t h = 0; h < memory.memoryHeapCount; ++h)
    if ((memory.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) && memory.memoryHeaps[h].size > largest_size) {
      largest = h;
      largest_size = memory.memoryHeaps[h].size;
    }
  for (std::uint32_t i = 0; i < memory.memoryTypeCount; ++i) {
    const auto& t = memory.memoryTypes[i];
    if (t.heapIndex == largest && (t.propertyFlags & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT) &&
        (t.propertyFlags & host_coherent) == host_coherent)
      return true;
  }
  return false;
}

std::uint64_t padded_size(std::uint64_t bytes) {
  constexpr std::uint64_t minimum = 16;
  return bytes <= minimum ? minimum : (bytes + 3) / 4 * 4;
}

result<buffer> buffer::create(const VolkDeviceTable& vk, VkDevice device,
                              const VkPhysicalDeviceMemoryProperties& memory, VkDeviceSize size, buffer_role role) {
  VkBufferUsageFlags usage = 0;
  VkMemoryPropertyFlags required = 0, preferred = 0;
  switch (role) {
    case buffer_role::mapped_storage:
      // TRANSFER_DST: outputs are cleared with vkCmdFillBuffer before the dispatch.
      usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
      required = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | host_coherent;
      preferred = VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
      break;
    case buffer_role::storage:
      usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT;
      required = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
      break;
    case buffer_role::upload:
      usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT;
      required = host_coherent;
      break;
    case buffer_role::download:
      usage = VK_BUFFER_USAGE_TRANSFER_DST_BIT;
      required = host_coherent;
      preferred = VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
      break;
  }

  buffer b;
  b.vk_ = &vk;
  b.device_ = device;
  b.size_ = size;
  VkBufferCreateInfo bi{};
  bi.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
  bi.size = size;
  bi.usage = usage;
  bi.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  EC_VK_TRY(vk.vkCreateBuffer(device, &bi, nullptr, &b.buffer_));

  VkMemoryRequirements req{};
  vk.vkGetBufferMemoryRequirements(device, b.buffer_, &req);
  const auto type = find_type(memory, req.memoryTypeBits, required, preferred);
  if (!type) return fail(error_code::device_error, "no memory type for a buffer of " + std::to_string(size) + " bytes");
  VkMemoryAllocateInfo ai{};
  ai.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO;
  ai.allocationSize = req.size;
  ai.memoryTypeIndex = *type;
  EC_VK_TRY(vk.vkAllocateMemory(device, &ai, nullptr, &b.memory_));
  EC_VK_TRY(vk.vkBindBufferMemory(device, b.buffer_, b.memory_, 0));
  if (role != buffer_role::storage) EC_VK_TRY(vk.vkMapMemory(device, b.memory_, 0, VK_WHOLE_SIZE, 0, &b.mapped_));
  return b;
}

buffer& buffer::operator=(buffer&& other) noexcept {
  if (this != &other) {
    reset();
    vk_ = std::exchange(other.vk_, nullptr);
    device_ = std::exchange(other.device_, VK_NULL_HANDLE);
    buffer_ = std::exchange(other.buffer_, VK_NULL_HANDLE);
    memory_ = std::exchange(other.memory_, VK_NULL_HANDLE);
    size_ = std::exchange(other.size_, 0);
    mapped_ = std::exchange(other.mapped_, nullptr);
  }
  return *this;
}

void buffer::reset() noexcept {
  if (!vk_) return;
  // Freeing mapped memory unmaps it implicitly (vkFreeMemory).
  if (buffer_ != VK_NULL_HANDLE) vk_->vkDestroyBuffer(device_, buffer_, nullptr);
  if (memory_ != VK_NULL_HANDLE) vk_->vkFreeMemory(device_, memory_, nullptr);
  buffer_ = VK_NULL_HANDLE;
  memory_ = VK_NULL_HANDLE;
  mapped_ = nullptr;
  vk_ = nullptr;
}

buffer_pool::buffer_pool(const VolkDeviceTable& vk, VkDevice device, const VkPhysicalDeviceMemoryProperties& memory,
                         std::uint64_t max_buffer_bytes, std::uint64_t budget_bytes)
    : vk_(vk), device_(device), memory_(memory), max_buffer_bytes_(max_buffer_bytes), budget_(budget_bytes) {}

// Quarter steps between powers of two (at most 25% slack), so that nearby sizes share buffers; never above
// the device's buffer limit, which the caller has already checked `size` against.
std::uint64_t buffer_pool::size_class(std::uint64_t size) const {
  if (size <= 4096) return padded_size(size) <= 256 ? 256 : 4096;
  const std::uint64_t step = std::bit_floor(size) / 4;
  const std::uint64_t rounded = (size + step - 1) / step * step;
  return std::max(size, std::min(rounded, max_buffer_bytes_));
}

result<buffer> buffer_pool::take(VkDeviceSize size, buffer_role role) {
  const std::uint64_t want = size_class(size);
  for (auto it = kept_.rbegin(); it != kept_.rend(); ++it) {
    if (it->role == role && it->b.size() == want) {
      buffer b = std::move(it->b);
      kept_bytes_ -= want;
      kept_.erase(std::next(it).base());
      return b;
    }
  }
  auto b = buffer::create(vk_, device_, memory_, want, role);
  if (b.code() == error_code::out_of_memory && !kept_.empty()) {
    clear();  // kept buffers may be what fills the heap
    b = buffer::create(vk_, device_, memory_, want, role);
  }
  return b;
}

void buffer_pool::give(buffer b, buffer_role role) {
  if (b.handle() == VK_NULL_HANDLE || b.size() > budget_) return;
  kept_bytes_ += b.size();
  kept_.push_back({role, std::move(b)});
  while (kept_bytes_ > budget_) {
    kept_bytes_ -= kept_.front().b.size();
    kept_.erase(kept_.begin());
  }
}

}  // namespace ec::backends::vulkan
