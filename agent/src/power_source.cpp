// Battery versus mains from the power_supply class (Documentation/ABI/testing/sysfs-class-power): an external
// supply (Mains, USB, UPS, Wireless...) that is online means mains; with no external supply listed, the
// battery's own status says whether it discharges.
#include "ec/agent/power_source.hpp"

#include "sysfs_file.hpp"

namespace ec::agent {

power_reading read_power_supplies(const std::filesystem::path& sysfs_root) {
  int batteries = 0, externals = 0, externals_online = 0, discharging = 0;
  double charge_sum = 0;
  int charges = 0;
  for (const auto& dir : detail::sysfs_entries(detail::under_root(sysfs_root, "sys/class/power_supply"), "")) {
    const auto type = detail::read_sysfs_line(dir / "type");
    if (!type) continue;
    if (*type != "Battery") {
      if (const auto online = detail::read_sysfs_integer(dir / "online")) {
        ++externals;
        if (*online != 0) ++externals_online;
      }
      continue;
    }
    if (detail::read_sysfs_line(dir / "scope").value_or("") == "Device") continue;  // a peripheral's battery
    ++batteries;
    if (detail::read_sysfs_line(dir / "status").value_or("") == "Discharging") ++discharging;
    if (const auto c = detail::read_sysfs_integer(dir / "capacity"); c && *c >= 0 && *c <= 100) {
      charge_sum += static_cast<double>(*c);
      ++charges;
    }
  }
  power_reading r;
  if (charges > 0) r.charge_percent = charge_sum / charges;
  if (externals_online > 0) {
    r.on_battery = false;
  } else if (batteries > 0) {
    r.on_battery = externals > 0 || discharging > 0;
  }  // no battery and no external supply online: not known (a desktop without power_supply entries)
  return r;
}

}  // namespace ec::agent
