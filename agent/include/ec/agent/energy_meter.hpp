// Energy the device's own power sensors measure: Intel/AMD RAPL counters (/sys/class/powercap) or INA3221 rails
// (Jetson, hwmon or iio). Where there is no sensor the energy is unknown; the agent never estimates it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace ec::agent {

/// Cumulative energy from the first sensor family found under a sysfs root; sampled by the runtime.
class energy_meter {
 public:
  /// Finds the sensors under sysfs_root; none found means every figure stays unknown.
  explicit energy_meter(std::filesystem::path sysfs_root);

  /// Reads the sensors at now_ms; returns the joules since the previous sample (nothing when unknown).
  std::optional<double> sample(std::uint64_t now_ms);
  /// Joules since the first sample; nothing when the device has no readable sensor.
  [[nodiscard]] std::optional<double> total_joules() const {
    return measured_ ? std::optional(total_j_) : std::nullopt;
  }
  /// The sensors used: "rapl (intel-rapl:0)", "ina3221 (hwmon3: VDD_IN)", or "none".
  [[nodiscard]] const std::string& source() const { return source_; }

 private:
  struct rapl_zone {
    std::filesystem::path energy_file;
    std::uint64_t range_uj = 0;  // the counter wraps to 0 after this
    std::optional<std::uint64_t> last_uj;
  };
  struct power_rail {
    std::filesystem::path power_file;    // microwatts (hwmon powerN_input) or milliwatts (iio in_powerN_input)
    std::filesystem::path voltage_file;  // millivolts, with current_file (hwmon inN_input / currN_input)
    std::filesystem::path current_file;  // milliamps
    double power_scale_w = 0;            // watts per unit of power_file
  };

  void find_rapl(const std::filesystem::path& root);
  void find_ina3221(const std::filesystem::path& root);
  std::optional<double> rapl_joules();
  std::optional<double> rails_watts() const;

  std::string source_ = "none";
  std::vector<rapl_zone> rapl_;
  std::vector<power_rail> rails_;
  std::optional<double> last_watts_;
  std::uint64_t last_ms_ = 0;
  double total_j_ = 0;
  bool measured_ = false;
};

}  // namespace ec::agent
