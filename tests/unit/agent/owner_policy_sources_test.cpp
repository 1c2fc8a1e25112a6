// Each owner-policy source and the energy meter against fake sysfs files under a temporary root.
#include <doctest/doctest.h>

#include "ec/agent/energy_meter.hpp"
#include "ec/agent/load_source.hpp"
#include "ec/agent/power_source.hpp"
#include "ec/agent/thermal_source.hpp"
#include "fake_sysfs.hpp"

using namespace ec::agent;
using ec::agent::policy_test::fake_sysfs;

namespace {

// The joules of one sample, which must be known.
double sampled(energy_meter& m, std::uint64_t now_ms) {
  const auto j = m.sample(now_ms);
  REQUIRE(j.has_value());
  return *j;
}

}  // namespace

TEST_CASE("power source reads battery and charge when the mains supply is offline") {
  fake_sysfs fs;
  fs.power(false, 25);
  const auto r = read_power_supplies(fs.root());
  REQUIRE(r.on_battery.has_value());
  CHECK(*r.on_battery);
  REQUIRE(r.charge_percent.has_value());
  CHECK(*r.charge_percent == doctest::Approx(25));
  fs.power(true, 25);
  CHECK(read_power_supplies(fs.root()).on_battery == false);
}

TEST_CASE("power source ignores a peripheral's battery and uses the battery status without an external supply") {
  fake_sysfs fs;
  fs.write("sys/class/power_supply/hidpp_battery_0/type", "Battery");
  fs.write("sys/class/power_supply/hidpp_battery_0/scope", "Device");
  fs.write("sys/class/power_supply/hidpp_battery_0/status", "Discharging");
  fs.write("sys/class/power_supply/hidpp_battery_0/capacity", "5");
  const auto desktop = read_power_supplies(fs.root());
  CHECK_FALSE(desktop.on_battery.has_value());  // a mouse battery says nothing about the computer
  CHECK_FALSE(desktop.charge_percent.has_value());
  fs.write("sys/class/power_supply/battery/type", "Battery");
  fs.write("sys/class/power_supply/battery/status", "Discharging");
  fs.write("sys/class/power_supply/battery/capacity", "64");
  const auto phone = read_power_supplies(fs.root());
  CHECK(phone.on_battery == true);
  CHECK(phone.charge_percent.value_or(-1) == doctest::Approx(64));
  fs.write("sys/class/power_supply/battery/status", "Charging");
  CHECK(read_power_supplies(fs.root()).on_battery == false);
}

TEST_CASE("power source says nothing about a missing or garbled power_supply folder") {
  fake_sysfs fs;
  CHECK_FALSE(read_power_supplies(fs.root()).on_battery.has_value());
  fs.write("sys/class/power_supply/BAT0/type", "Battery");
  fs.write("sys/class/power_supply/BAT0/capacity", "not a number");
  fs.write("sys/class/power_supply/BAT1/type", "Battery");
  fs.write("sys/class/power_supply/BAT1/capacity", "250");  // out of range: skipped
  CHECK_FALSE(read_power_supplies(fs.root()).charge_percent.has_value());
}

TEST_CASE("thermal source reports the hottest plausible zone") {
  fake_sysfs fs;
  CHECK_FALSE(read_thermal_zones(fs.root()).hottest_c.has_value());
  fs.thermal(0, 45.5, "cpu-thermal");
  fs.thermal(1, 71.25, "gpu-thermal");
  fs.write("sys/class/thermal/thermal_zone2/type", "broken");
  fs.write("sys/class/thermal/thermal_zone2/temp", "-273200");  // a placeholder for an absent sensor
  fs.write("sys/class/thermal/thermal_zone3/temp", "999999");
  const auto r = read_thermal_zones(fs.root());
  REQUIRE(r.hottest_c.has_value());
  CHECK(*r.hottest_c == doctest::Approx(71.25));
  CHECK(r.zone == "gpu-thermal");
}

TEST_CASE("load source reads the load average, the online CPUs and GPU utilisation") {
  fake_sysfs fs;
  fs.write("proc/loadavg", "3.50 2.00 1.00 4/321 12345");
  fs.write("sys/devices/system/cpu/online", "0-3,6");
  fs.write("sys/class/drm/card0/device/gpu_busy_percent", "40");
  fs.write("sys/devices/gpu.0/load", "655");  // Jetson: per mille
  const auto r = read_load(fs.root());
  REQUIRE(r.load1.has_value());
  CHECK(*r.load1 == doctest::Approx(3.5));
  CHECK(r.cpus == 5);
  REQUIRE(r.gpu_busy_percent.has_value());
  CHECK(*r.gpu_busy_percent == doctest::Approx(65.5));
  fs.write("proc/loadavg", "garbage");
  fs.write("sys/devices/system/cpu/online", "3-1");
  const auto bad = read_load(fs.root());
  CHECK_FALSE(bad.load1.has_value());
  CHECK(bad.cpus >= 1);
}

TEST_CASE("energy meter is unknown without a power sensor") {
  fake_sysfs fs;
  energy_meter m(fs.root());
  CHECK(m.source() == "none");
  CHECK_FALSE(m.sample(0).has_value());
  CHECK_FALSE(m.sample(1000).has_value());
  CHECK_FALSE(m.total_joules().has_value());
}

TEST_CASE("energy meter counts RAPL package energy across a counter wrap and skips subzones") {
  fake_sysfs fs;
  fs.write("sys/class/powercap/intel-rapl:0/energy_uj", "999000000");
  fs.write("sys/class/powercap/intel-rapl:0/max_energy_range_uj", "1000000000");
  fs.write("sys/class/powercap/intel-rapl:0:0/energy_uj", "5");  // the cores: part of package 0
  fs.write("sys/class/powercap/intel-rapl:0:0/max_energy_range_uj", "1000000000");
  energy_meter m(fs.root());
  CHECK(m.source() == "rapl (intel-rapl:0)");
  CHECK(sampled(m, 0) == doctest::Approx(0));
  fs.write("sys/class/powercap/intel-rapl:0/energy_uj", "999500000");
  CHECK(sampled(m, 1000) == doctest::Approx(0.5));
  fs.write("sys/class/powercap/intel-rapl:0/energy_uj", "1500000");  // wrapped: 0.5 J to the top, 1.5 J after
  CHECK(sampled(m, 2000) == doctest::Approx(2.0));
  REQUIRE(m.total_joules().has_value());
  CHECK(*m.total_joules() == doctest::Approx(2.5));
}

TEST_CASE("energy meter is unknown when the RAPL counter cannot be read") {
  fake_sysfs fs;
  fs.write("sys/class/powercap/intel-rapl:0/max_energy_range_uj", "1000000000");  // energy_uj root-only: absent
  energy_meter m(fs.root());
  CHECK(m.source() == "none");
  CHECK_FALSE(m.sample(0).has_value());
}

TEST_CASE("energy meter integrates INA3221 rails and uses VDD_IN alone when the board labels it") {
  fake_sysfs fs;
  const std::string mon = "sys/class/hwmon/hwmon1/";
  fs.write(mon + "name", "ina3221");
  fs.write(mon + "in1_label", "VDD_IN");
  fs.write(mon + "in1_input", "5000");    // mV
  fs.write(mon + "curr1_input", "1000");  // mA: 5 W
  fs.write(mon + "in2_label", "VDD_CPU_GPU_CV");
  fs.write(mon + "in2_input", "5000");
  fs.write(mon + "curr2_input", "400");  // part of VDD_IN: must not be added
  energy_meter m(fs.root());
  CHECK(m.source() == "ina3221 (hwmon1: VDD_IN)");
  CHECK(sampled(m, 0) == doctest::Approx(0));
  fs.write(mon + "curr1_input", "2000");  // 10 W now: the trapezoid over 2 s is (5 + 10) / 2 * 2 = 15 J
  CHECK(sampled(m, 2000) == doctest::Approx(15));
  CHECK(*m.total_joules() == doctest::Approx(15));
}

TEST_CASE("energy meter sums unlabelled INA3221 rails and reads the older iio driver in milliwatts") {
  fake_sysfs fs;
  const std::string dev = "sys/bus/iio/devices/iio:device0/";
  fs.write(dev + "name", "ina3221x");
  fs.write(dev + "in_power0_input", "3000");  // mW
  fs.write(dev + "in_power1_input", "1000");
  energy_meter m(fs.root());
  CHECK(m.source().starts_with("ina3221 ("));
  m.sample(10'000);
  CHECK(sampled(m, 11'000) == doctest::Approx(4.0));  // 4 W for 1 s
}
