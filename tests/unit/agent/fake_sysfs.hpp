// A fake sysfs root for the owner policy and energy meter tests: a temporary folder holding just the files a test
// writes (sys/class/power_supply/..., proc/loadavg), removed at the end of the test.
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace ec::agent::policy_test {

/// A temporary root; write() creates parent folders and replaces the file's content.
class fake_sysfs {
 public:
  fake_sysfs() {
    char pattern[] = "/tmp/ec-fake-sysfs-XXXXXX";
    const char* made = ::mkdtemp(pattern);
    REQUIRE(made != nullptr);
    root_ = made;
  }
  ~fake_sysfs() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  fake_sysfs(const fake_sysfs&) = delete;
  fake_sysfs& operator=(const fake_sysfs&) = delete;

  /// The folder to use as policy.sysfs_root.
  [[nodiscard]] const std::filesystem::path& root() const { return root_; }

  /// Writes `content` and a newline to root/relative, as sysfs does; atomically, so a reader never sees half.
  void write(const std::string& relative, const std::string& content) const {
    const auto path = root_ / relative;
    std::filesystem::create_directories(path.parent_path());
    const auto tmp = path.string() + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << content << "\n";
    }
    std::filesystem::rename(tmp, path);
  }
  /// Removes a file or folder.
  void remove(const std::string& relative) const {
    std::error_code ec;
    std::filesystem::remove_all(root_ / relative, ec);
  }

  /// A battery and a mains supply: on_mains online or not, the battery discharging when off mains.
  void power(bool on_mains, int charge_percent) const {
    write("sys/class/power_supply/AC/type", "Mains");
    write("sys/class/power_supply/AC/online", on_mains ? "1" : "0");
    write("sys/class/power_supply/BAT0/type", "Battery");
    write("sys/class/power_supply/BAT0/status", on_mains ? "Charging" : "Discharging");
    write("sys/class/power_supply/BAT0/capacity", std::to_string(charge_percent));
  }
  /// One thermal zone at `celsius` (written in millidegrees).
  void thermal(int zone, double celsius, const std::string& type = "cpu-thermal") const {
    const auto dir = "sys/class/thermal/thermal_zone" + std::to_string(zone);
    write(dir + "/type", type);
    write(dir + "/temp", std::to_string(static_cast<long long>(celsius * 1000)));
  }

 private:
  std::filesystem::path root_;
};

}  // namespace ec::agent::policy_test
