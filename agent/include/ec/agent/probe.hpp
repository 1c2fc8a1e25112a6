// `edge-agent probe`: discover backends and devices, self-test and calibrate (cached), and report what was found
// and which device each kernel would run on.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "ec/backends/registry.hpp"
#include "ec/backends/selection.hpp"

namespace ec::agent {

struct probe_options {
  std::filesystem::path state_dir;   // caches live here (device cache, pipeline and program caches, PoCL's)
  std::filesystem::path module_dir;  // backend modules; empty: the registry's default
  std::vector<std::string> disabled_backends;
  unsigned cpu_threads = 0;                // the CPU backend's threads (devices.cpu_threads; 0: one per core)
  std::uint32_t custom_cache_entries = 8;  // compiled custom kernels per device (devices.custom_cache_entries)
  bool calibrate = true;
  bool recalibrate = false;
  bool validation = false;  // Vulkan validation layer (slow; for tests)
  std::string backend_filter;
  std::string device_filter;
};

/// Everything probe found; keeps the registry alive for bench and the agent.
struct probe_report {
  std::unique_ptr<backends::registry> devices;
  std::unique_ptr<backends::device_selector> selector;
  double discover_s = 0;  // module loading and device enumeration
  double evaluate_s = 0;  // self-tests and calibration (near zero when everything was cached)
};

/// Where the agent keeps its state when none is configured: $EC_STATE_DIR, /var/lib/edge-agent for root, else
/// $XDG_STATE_HOME/edge-agent or ~/.local/state/edge-agent.
std::filesystem::path default_state_dir();

/// Discovers, self-tests and calibrates.
result<probe_report> run_probe(const probe_options& options);
/// The report as aligned text tables.
std::string probe_text(const probe_report& report);
/// The report as one JSON document.
std::string probe_json(const probe_report& report);

}  // namespace ec::agent
