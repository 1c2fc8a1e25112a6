// Device selection: self-test every catalogue kernel on every device, calibrate the ones that pass, and choose per
// kernel the fastest correct device of each resource group, honouring config filters and task hints.
#pragma once

#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "ec/backends/device_cache.hpp"
#include "ec/backends/registry.hpp"

namespace ec::backends {

struct selection_options {
  std::filesystem::path cache_file;  // verdicts and figures; empty: nothing cached
  bool recalibrate = false;          // ignore cached entries and measure again
  bool calibrate = true;             // false: self-tests only (choice then falls back to load order)
  std::string backend_filter;        // config `backend = "vulkan"`: only this backend is chosen ("" any)
  std::string device_filter;         // only devices whose id or name contains this ("" any)
};

/// One kernel on one device: verdict, figures, where they came from, and quirk notes.
struct kernel_device_status {
  const kernels::kernel_spec* kernel = nullptr;
  const device_entry* device = nullptr;
  device_kernel_record record;
  bool from_cache = false;
  double evaluate_s = 0;  // time spent on self-test + calibration now (0 on a cache hit)
};

class device_selector {
public:
  device_selector(const registry& devices, selection_options options);
  /// Self-tests and calibrates every (kernel, device) pair not in the cache, then saves the cache.
  result<void> evaluate();
  [[nodiscard]] std::span<const kernel_device_status> statuses() const { return statuses_; }
  /// The fastest device that passed `kernel` in `resource_group`; a `backend_hint` (a task's) is honoured when
  /// that backend has a passing device there. nullptr when no device qualifies.
  [[nodiscard]] const device_entry* choose(std::string_view kernel, std::string_view resource_group,
                                           std::string_view backend_hint = {}) const;
  /// The devices config filters allow, in `resource_group` ("" every group), in registry order: the candidates
  /// for custom kernels, which have no self-test verdicts.
  [[nodiscard]] std::vector<const device_entry*> devices_in(std::string_view resource_group = {}) const;
  /// Every resource group, in the registry's device order.
  [[nodiscard]] std::vector<std::string> resource_groups() const;
  /// Names of the kernels that passed on `device` (its DeviceInfo.kernels).
  [[nodiscard]] std::vector<std::string> kernels_passed(const device_entry& device) const;

private:
  [[nodiscard]] bool allowed(const device_entry& d) const;
  const registry& registry_;
  selection_options options_;
  device_cache cache_;
  std::vector<kernel_device_status> statuses_;
};

}  // namespace ec::backends
