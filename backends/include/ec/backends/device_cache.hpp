// Self-test verdicts and calibration figures cached on disk per (device, driver, kernel hash), so a warm start
// skips both; a new driver or a changed kernel gets a new key and is measured again.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "ec/kernels/kernel_spec.hpp"
#include "ec/protocol/error.hpp"
#include "ec/protocol/messages.hpp"

namespace ec::backends {

/// What was learned about one kernel on one device.
struct device_kernel_record {
  bool passed = false;
  std::string reason;               // why the self-test failed ("" when it passed)
  double seconds_per_call = 0;      // calibration: median wall time of one call (0: not calibrated)
  double gbps = 0;                  // bytes read + written per second
  double gflops = 0;                // 0 when the kernel's flops are not meaningful
};

class device_cache {
public:
  /// A cache backed by `file` (loaded now if it exists; a malformed line is ignored); empty path: memory only.
  explicit device_cache(std::filesystem::path file);
  /// The key of a kernel on a device: sha256 of backend, name, driver, uuid and the kernel's hash, in hex.
  static std::string key(const protocol::device_info& device, const kernels::kernel_spec& kernel);
  [[nodiscard]] std::optional<device_kernel_record> find(const std::string& key) const;
  void put(const std::string& key, device_kernel_record record);
  /// Writes the file atomically (temp file, fsync, rename) when something changed.
  result<void> save();

private:
  std::filesystem::path file_;
  std::map<std::string, device_kernel_record> records_;
  bool dirty_ = false;
};

}  // namespace ec::backends
