// What the kernel says about the device's power: battery or mains, and the battery's charge
// (/sys/class/power_supply).
#pragma once

#include <filesystem>
#include <optional>

namespace ec::agent {

/// One reading of the power supplies; empty fields were not found.
struct power_reading {
  std::optional<bool> on_battery;        // true: running from a battery; false: on mains (or USB, UPS...)
  std::optional<double> charge_percent;  // mean capacity of the system's batteries, 0..100
};

/// Reads root/sys/class/power_supply. Device-scope batteries (a mouse, a headset) are ignored.
power_reading read_power_supplies(const std::filesystem::path& sysfs_root);

}  // namespace ec::agent
