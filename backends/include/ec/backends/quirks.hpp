// Known driver and device peculiarities as data (clvk's config-as-data style): matched by backend, vendor,
// device name and driver version text, applied by the selection code and shown by probe.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ec/protocol/messages.hpp"

namespace ec::backends {

enum quirk_flag : std::uint32_t {
  quirk_none = 0,
  quirk_cpu_emulated = 1u << 0,    // a GPU API running on CPU cores: shares the CPU's resource group
  quirk_skip_kernels = 1u << 1,    // `kernels` lists catalogue kernels never offered on this device
  quirk_measure_not_assume = 1u << 2,  // a GPU often slower than its host CPU: keep the CPU as a candidate
};

struct quirk {
  std::string_view backend;          // "vulkan", "opencl" or "" for any
  std::uint32_t vendor_id = 0;       // 0 for any
  std::string_view name_contains;    // "" for any
  std::string_view driver_contains;  // "" for any driver version
  std::uint32_t flags = quirk_none;
  std::string_view kernels;          // comma-separated, with quirk_skip_kernels
  std::string_view why;              // shown by probe; cite the issue or measurement
};

/// The built-in table.
std::span<const quirk> quirks_table();

/// What applies to one device.
struct applied_quirks {
  std::uint32_t flags = quirk_none;
  std::vector<std::string> skipped_kernels;
  std::vector<std::string> notes;  // the `why` of every matching entry
};

/// Every entry of `table` matching `device`, merged.
applied_quirks quirks_for(const protocol::device_info& device, std::span<const quirk> table = quirks_table());

}  // namespace ec::backends
