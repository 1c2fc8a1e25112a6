// How busy the device is with other work: the CPU load average (/proc/loadavg) and GPU utilisation where the
// driver exposes it (amdgpu gpu_busy_percent, Jetson's gpu.0/load).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace ec::agent {

/// One reading; empty fields were not exposed.
struct load_reading {
  std::optional<double> load1;             // 1-minute load average (runnable + uninterruptible threads)
  unsigned cpus = 1;                       // online CPUs
  std::optional<double> gpu_busy_percent;  // the busiest GPU that reports utilisation, 0..100
  std::string gpu;                         // which one
};

/// Reads root/proc/loadavg, root/sys/devices/system/cpu/online and the GPU utilisation files under root.
load_reading read_load(const std::filesystem::path& sysfs_root);

}  // namespace ec::agent
