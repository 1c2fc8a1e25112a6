// Thermal zones report millidegrees Celsius. Some drivers report placeholders for absent or failed sensors
// (-273200, huge values): anything outside -50..200 C is skipped as a sensor error rather than letting it pause
// the agent forever.
#include "ec/agent/thermal_source.hpp"

#include "sysfs_file.hpp"

namespace ec::agent {
namespace {

constexpr long long min_plausible_mc = -50'000, max_plausible_mc = 200'000;

}  // namespace

thermal_reading read_thermal_zones(const std::filesystem::path& sysfs_root) {
  thermal_reading r;
  for (const auto& zone : detail::sysfs_entries(detail::under_root(sysfs_root, "sys/class/thermal"), "thermal_zone")) {
    const auto mc = detail::read_sysfs_integer(zone / "temp");
    if (!mc || *mc < min_plausible_mc || *mc > max_plausible_mc) continue;
    const double c = static_cast<double>(*mc) / 1000.0;
    if (r.hottest_c && *r.hottest_c >= c) continue;
    r.hottest_c = c;
    r.zone = detail::read_sysfs_line(zone / "type").value_or(zone.filename().string());
  }
  return r;
}

}  // namespace ec::agent
