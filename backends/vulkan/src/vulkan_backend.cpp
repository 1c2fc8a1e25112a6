// Discovery: every physical device with a compute queue becomes a device; the ones skipped, and why, are
// kept for why_unavailable() when nothing usable remains.
#include "vulkan_backend.hpp"

#include <chrono>

#include "vk_check.hpp"

namespace ec::backends::vulkan {

vulkan_backend::vulkan_backend(const backend_options& options, const vulkan_tuning& tuning) {
  const auto start = std::chrono::steady_clock::now();
  auto inst = instance::create(options.validation);
  instance_us_ = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count());
  if (!inst) {
    why_ = inst.err().message;
    return;
  }
  instance_ = std::move(*inst);

  std::uint32_t count = 0;
  if (const VkResult r = vkEnumeratePhysicalDevices(instance_->handle(), &count, nullptr); r != VK_SUCCESS) {
    why_ = vk_error("vkEnumeratePhysicalDevices", r).message;
    return;
  }
  std::vector<VkPhysicalDevice> physical(count);
  if (const VkResult r = vkEnumeratePhysicalDevices(instance_->handle(), &count, physical.data()); r < 0) {
    why_ = vk_error("vkEnumeratePhysicalDevices", r).message;
    return;
  }
  std::vector<std::string> skipped;
  for (std::uint32_t i = 0; i < count; ++i) {
    auto caps = query_device(physical[i], i);
    if (!caps) {
      skipped.push_back(caps.err().message);
      continue;
    }
    const std::string name = caps->info.name;
    auto dev = vulkan_device::create(*instance_, std::move(*caps), options, tuning.force_staging);
    if (!dev) {
      skipped.push_back(name + ": " + dev.err().message);
      continue;
    }
    devices_.push_back(std::move(*dev));
  }
  if (auto r = instance_->take_messages_as_error("device discovery"); !r) {
    devices_.clear();  // validation asked for and the layer objected: nothing here can be trusted
    skipped.push_back(r.err().message);
  }
  if (devices_.empty()) {
    why_ = count == 0 ? "no Vulkan device with compute queue (the loader found no physical device)"
                      : "no Vulkan device with compute queue";
    for (const auto& s : skipped) why_ += "; " + s;
  }
}

vulkan_backend::~vulkan_backend() = default;

std::vector<device*> vulkan_backend::devices() {
  std::vector<device*> out;
  out.reserve(devices_.size());
  for (const auto& d : devices_) out.push_back(d.get());
  return out;
}

}  // namespace ec::backends::vulkan
