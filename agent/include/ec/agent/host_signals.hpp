// Owner-device state fed in by the host application (a phone app has no sysfs): power, temperature, network.
// The owner policy reads a snapshot; the C API writes it from the app's threads. Nothing here means "not said".
#pragma once

#include <mutex>
#include <optional>

namespace ec::agent {

/// What the host has said so far; each field is empty until the host feeds it.
struct host_signal_snapshot {
  std::optional<bool> on_battery;        // true on battery, false on mains
  std::optional<double> charge_percent;  // 0..100
  std::optional<double> temperature_c;   // the device's hottest relevant sensor, degrees Celsius
  std::optional<bool> metered_network;   // true on a metered (cellular) network
};

/// Thread-safe store of host-fed signals; one per agent instance, shared by the host API and the owner policy.
class host_signals {
 public:
  /// Records the power source and, when known, the charge level.
  void set_power(bool on_battery, std::optional<double> charge_percent) {
    std::lock_guard lock(mu_);
    state_.on_battery = on_battery;
    state_.charge_percent = charge_percent;
  }
  /// Records the device temperature in degrees Celsius.
  void set_temperature(double celsius) {
    std::lock_guard lock(mu_);
    state_.temperature_c = celsius;
  }
  /// Records whether the current network is metered.
  void set_metered(bool metered) {
    std::lock_guard lock(mu_);
    state_.metered_network = metered;
  }
  /// A consistent copy of everything fed so far.
  [[nodiscard]] host_signal_snapshot snapshot() const {
    std::lock_guard lock(mu_);
    return state_;
  }

 private:
  mutable std::mutex mu_;
  host_signal_snapshot state_;
};

}  // namespace ec::agent
