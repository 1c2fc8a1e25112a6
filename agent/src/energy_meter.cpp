// Reading power sensors. RAPL: cumulative microjoule counters per package (intel-rapl:N; the intel-rapl:N:M
// subzones are parts of a package and would be counted twice), wrapping at max_energy_range_uj; since Linux 5.10
// they are readable by root only (CVE-2020-8694), and an unreadable counter is "unknown". INA3221: instantaneous
// power per rail, integrated between samples (trapezoids); where a rail is labelled VDD_IN it is the board's
// input and the others are parts of it, so it alone is used.
#include "ec/agent/energy_meter.hpp"

#include "sysfs_file.hpp"

namespace ec::agent {
namespace {

bool is_top_level_rapl_zone(const std::filesystem::path& p) {
  const auto name = p.filename().string();
  return name.find(':') == name.rfind(':');  // "intel-rapl:0", not "intel-rapl:0:1"
}

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

energy_meter::energy_meter(std::filesystem::path sysfs_root) {
  find_rapl(sysfs_root);
  if (rapl_.empty()) find_ina3221(sysfs_root);
}

void energy_meter::find_rapl(const std::filesystem::path& root) {
  std::vector<std::string> names;
  for (const auto& zone : detail::sysfs_entries(detail::under_root(root, "sys/class/powercap"), "intel-rapl:")) {
    if (!is_top_level_rapl_zone(zone)) continue;
    const auto range = detail::read_sysfs_integer(zone / "max_energy_range_uj");
    if (!detail::read_sysfs_integer(zone / "energy_uj") || !range || *range <= 0) continue;
    rapl_.push_back({zone / "energy_uj", static_cast<std::uint64_t>(*range), std::nullopt});
    names.push_back(zone.filename().string());
  }
  if (!rapl_.empty()) source_ = "rapl (" + join_names(names) + ")";
}

void energy_meter::find_ina3221(const std::filesystem::path& root) {
  std::vector<std::string> names;
  for (const auto& mon : detail::sysfs_entries(detail::under_root(root, "sys/class/hwmon"), "hwmon")) {
    if (detail::read_sysfs_line(mon / "name").value_or("") != "ina3221") continue;
    for (int ch = 1; ch <= 3; ++ch) {
      const auto n = std::to_string(ch);
      power_rail rail{{}, mon / ("in" + n + "_input"), mon / ("curr" + n + "_input"), 0};
      if (!detail::read_sysfs_integer(rail.voltage_file) || !detail::read_sysfs_integer(rail.current_file)) continue;
      const auto label = detail::read_sysfs_line(mon / ("in" + n + "_label")).value_or("channel " + n);
      if (label == "VDD_IN") {
        rails_ = {rail};
        source_ = "ina3221 (" + mon.filename().string() + ": VDD_IN)";
        return;
      }
      rails_.push_back(rail);
      names.push_back(mon.filename().string() + ": " + label);
    }
  }
  // Older Jetson kernels: the ina3221x iio driver, milliwatts per rail.
  for (const auto& dev : detail::sysfs_entries(detail::under_root(root, "sys/bus/iio/devices"), "iio:device")) {
    if (detail::read_sysfs_line(dev / "name").value_or("") != "ina3221x") continue;
    for (int ch = 0; ch <= 2; ++ch) {
      const auto f = dev / ("in_power" + std::to_string(ch) + "_input");
      if (!detail::read_sysfs_integer(f)) continue;
      rails_.push_back({f, {}, {}, 1e-3});
      names.push_back(dev.filename().string() + ": rail " + std::to_string(ch));
    }
  }
  if (!rails_.empty()) source_ = "ina3221 (" + join_names(names) + ")";
}

std::optional<double> energy_meter::rapl_joules() {
  double joules = 0;
  for (auto& z : rapl_) {
    const auto now = detail::read_sysfs_integer(z.energy_file);
    if (!now || *now < 0 || static_cast<std::uint64_t>(*now) > z.range_uj) return std::nullopt;
    const auto uj = static_cast<std::uint64_t>(*now);
    if (z.last_uj)
      joules += static_cast<double>(uj >= *z.last_uj ? uj - *z.last_uj : z.range_uj - *z.last_uj + uj) * 1e-6;
    z.last_uj = uj;
  }
  return joules;
}

std::optional<double> energy_meter::rails_watts() const {
  double watts = 0;
  for (const auto& r : rails_) {
    if (!r.power_file.empty()) {
      const auto p = detail::read_sysfs_integer(r.power_file);
      if (!p || *p < 0) return std::nullopt;
      watts += static_cast<double>(*p) * r.power_scale_w;
      continue;
    }
    const auto mv = detail::read_sysfs_integer(r.voltage_file), ma = detail::read_sysfs_integer(r.current_file);
    if (!mv || !ma || *mv < 0) return std::nullopt;
    watts += static_cast<double>(*mv) * static_cast<double>(*ma) * 1e-6;  // mV * mA = microwatts
  }
  return watts;
}

std::optional<double> energy_meter::sample(std::uint64_t now_ms) {
  std::optional<double> added;
  if (!rapl_.empty()) {
    added = rapl_joules();  // the first sample only sets the counters' starting points (0 J)
  } else if (!rails_.empty()) {
    const auto w = rails_watts();
    if (w && last_watts_ && now_ms > last_ms_)
      added = (*w + *last_watts_) / 2 * static_cast<double>(now_ms - last_ms_) / 1000;
    else if (w)
      added = 0.0;
    last_watts_ = w;
    last_ms_ = now_ms;
  }
  if (!added) return std::nullopt;
  measured_ = true;
  total_j_ += *added;
  return added;
}

}  // namespace ec::agent
