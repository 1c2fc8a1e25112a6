// The Vulkan backend: one instance (loader opened at run time through volk) and a device per physical device
// with a compute queue; when there is none it says why (no loader, no ICD, no device, validation missing).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ec/backends/backend.hpp"
#include "vk_instance.hpp"
#include "vulkan_device.hpp"

namespace ec::backends::vulkan {

/// Vulkan-only settings beyond backend_options (tests and benchmarks; the module uses the defaults).
struct vulkan_tuning {
  bool force_staging = false;  // use staging buffers even where device memory can be mapped (tests that path)
};

class vulkan_backend final : public backend {
 public:
  explicit vulkan_backend(const backend_options& options, const vulkan_tuning& tuning = {});
  ~vulkan_backend() override;
  vulkan_backend(const vulkan_backend&) = delete;
  vulkan_backend& operator=(const vulkan_backend&) = delete;

  [[nodiscard]] std::string name() const override { return "vulkan"; }
  [[nodiscard]] std::vector<device*> devices() override;
  [[nodiscard]] std::string why_unavailable() const override { return why_; }

  /// The devices with their Vulkan-specific accessors (tests, diagnostics).
  [[nodiscard]] const std::vector<std::unique_ptr<vulkan_device>>& vulkan_devices() const { return devices_; }
  /// Microseconds spent creating the instance (the loader scans ICDs and layers: tens to hundreds of ms).
  [[nodiscard]] std::uint64_t instance_creation_us() const { return instance_us_; }

 private:
  std::unique_ptr<instance> instance_;  // declared first: destroyed after the devices
  std::vector<std::unique_ptr<vulkan_device>> devices_;
  std::string why_;
  std::uint64_t instance_us_ = 0;
};

}  // namespace ec::backends::vulkan
