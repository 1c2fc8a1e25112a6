// The owner policy: whether the device's owner lets the agent take work now, from power, temperature, network,
// time windows and other work on the device, each latched with hysteresis (docs/owner-policy.md).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ec/agent/config.hpp"
#include "ec/agent/host_signals.hpp"
#include "ec/agent/hysteresis.hpp"
#include "ec/agent/time_window.hpp"

namespace ec::agent {

/// The agent's own share of the device's load, so that it is not mistaken for the owner's work.
struct own_activity {
  unsigned running_tasks = 0;     // tasks running on the executor now
  unsigned threads_per_task = 1;  // CPU threads one task may keep busy
};

/// The policy's answer: pause or not, and why (the conditions holding the pause, "; "-separated).
struct owner_verdict {
  bool paused = false;
  std::string reason;  // "" when not paused
  bool operator==(const owner_verdict&) const = default;
};

/// What the sources read at the last evaluation, for `edge-agent status` and logs.
struct owner_readings {
  std::optional<bool> on_battery;
  std::optional<double> charge_percent;
  std::optional<double> temperature_c;
  std::string thermal_zone;  // where the hottest reading came from ("host" when host-fed)
  std::optional<bool> metered_network;
  std::optional<double> load1;
  unsigned cpus = 1;
  std::optional<double> gpu_busy_percent;
};

/// Everything an owner policy works from.
struct owner_policy_options {
  policy_config config;
  std::shared_ptr<host_signals> host;  // host-fed signals; they win over sysfs where both exist (null: none)
  std::function<week_minute(std::uint64_t now_ms)> local_time;  // injectable; default: local_week_minute
};

/// Evaluated once a second by the runtime; not thread-safe (one caller).
class owner_policy {
 public:
  /// Builds the policy; fails when a time window does not parse.
  static result<owner_policy> create(owner_policy_options options);

  /// Reads every source at now_ms, feeds the latches and returns the verdict.
  owner_verdict evaluate(std::uint64_t now_ms, own_activity own);
  /// The last verdict (not paused before the first evaluation).
  [[nodiscard]] const owner_verdict& verdict() const { return verdict_; }
  /// The readings of the last evaluation.
  [[nodiscard]] const owner_readings& readings() const { return readings_; }
  /// Seconds until work resumes if every held condition stays clear; 0 while one still holds, or none is held.
  [[nodiscard]] std::uint64_t resuming_after_s(std::uint64_t now_ms) const;

 private:
  enum class condition : std::uint8_t { battery, temperature, metered, schedule, cpu_busy, gpu_busy };
  static constexpr std::size_t condition_count = 6;
  struct latch {
    hysteresis h;
    std::string reason;  // why it last held
  };

  explicit owner_policy(owner_policy_options options, std::vector<time_window> run, std::vector<time_window> pause);
  owner_readings read_sources() const;
  std::optional<std::string> battery_reason(const owner_readings& r) const;
  std::optional<std::string> temperature_reason(const owner_readings& r) const;
  std::optional<std::string> schedule_reason(std::uint64_t now_ms) const;
  std::optional<std::string> cpu_reason(const owner_readings& r, own_activity own) const;
  std::optional<std::string> gpu_reason(const owner_readings& r) const;
  void feed(condition c, std::optional<std::string> reason, std::uint64_t now_ms);

  owner_policy_options options_;
  std::vector<time_window> run_windows_, pause_windows_;
  std::array<latch, condition_count> latches_;
  owner_verdict verdict_;
  owner_readings readings_;
};

}  // namespace ec::agent
