// A backend (Vulkan, OpenCL, CPU): enumerates its devices, or says why it has none.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "ec/backends/device.hpp"

namespace ec::backends {

/// Settings every backend receives when it is created.
struct backend_options {
  std::filesystem::path cache_dir;                    // pipeline / program caches; empty: no disk cache
  std::uint64_t cache_max_bytes = 64ull << 20;        // per backend; least recently used entries go first
  bool validation = false;                            // Vulkan: Khronos validation layer on, any message fails
  unsigned cpu_threads = 0;                           // CPU backend: worker threads (0: all cores)
  std::uint32_t custom_cache_entries = 8;             // compiled custom kernels kept per device (LRU); never on disk
};

class backend {
public:
  virtual ~backend() = default;
  /// "vulkan", "opencl" or "cpu".
  [[nodiscard]] virtual std::string name() const = 0;
  /// The devices found; empty when none (then why_unavailable() says why).
  [[nodiscard]] virtual std::vector<device*> devices() = 0;
  /// Empty when the backend has devices; otherwise a sentence for `probe` (missing loader, no ICD, no device).
  [[nodiscard]] virtual std::string why_unavailable() const = 0;
};

}  // namespace ec::backends
