// Per-task energy from the device's own sensors (energy_meter): recent samples of the package's (or board's)
// energy, each with the number of tasks the executor was running, so that a finished task is given the energy of
// its run interval shared equally with the tasks that ran beside it. Idle draw is included; nothing is modelled:
// without a sensor every figure is unknown.
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>

#include "ec/agent/energy_meter.hpp"

namespace ec::agent {

/// Thread-safe: the timer thread samples once a second, executor threads at each task's end.
class energy_history {
 public:
  /// Finds the sensors under sysfs_root (energy_meter); `horizon_us` bounds how far back a run can be attributed.
  explicit energy_history(const std::filesystem::path& sysfs_root, std::uint64_t horizon_us = 120'000'000);

  /// Reads the sensors at now_us with `busy_tasks` running since the previous sample; returns the joules since
  /// that sample (nothing without a sensor).
  std::optional<double> sample(std::uint64_t now_us, unsigned busy_tasks);
  /// Joules of a task that ran over [start_us, end_us] (end_us = now): the samples' energy over that interval,
  /// each interval's share divided by the tasks running in it. Samples once at end_us. Nothing without a sensor.
  std::optional<double> task_joules(std::uint64_t start_us, std::uint64_t end_us, unsigned busy_tasks);

  /// Joules since the first sample; nothing without a sensor.
  [[nodiscard]] std::optional<double> total_joules() const;
  /// The sensors used ("none" without any).
  [[nodiscard]] std::string source() const;

 private:
  struct interval {
    std::uint64_t from_us = 0, to_us = 0;
    double joules = 0;
    unsigned tasks = 0;  // running during it (at least the one being attributed)
  };

  std::optional<double> sample_locked(std::uint64_t now_us, unsigned busy_tasks);

  mutable std::mutex mu_;
  energy_meter meter_;
  std::uint64_t horizon_us_;
  std::deque<interval> intervals_;
  std::optional<std::uint64_t> last_us_;
};

}  // namespace ec::agent
