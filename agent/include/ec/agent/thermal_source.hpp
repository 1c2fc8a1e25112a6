// The device's hottest thermal zone (/sys/class/thermal/thermal_zone*/temp), for the owner policy.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace ec::agent {

/// The hottest plausible zone; empty when no zone could be read.
struct thermal_reading {
  std::optional<double> hottest_c;  // degrees Celsius
  std::string zone;                 // its type ("cpu-thermal", "x86_pkg_temp") or folder name
};

/// Reads every root/sys/class/thermal/thermal_zone*/temp (millidegrees); implausible values are skipped.
thermal_reading read_thermal_zones(const std::filesystem::path& sysfs_root);

}  // namespace ec::agent
