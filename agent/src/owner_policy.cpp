// The owner policy's evaluation: read every source, turn each into a pausing reason or none, latch each reason
// with its own hysteresis, and pause while any latch holds. A reading that is not known never pauses: the agent
// cannot tell a desktop without a battery from a phone whose battery file is missing.
#include "ec/agent/owner_policy.hpp"

#include <algorithm>
#include <cstdio>

#include "ec/agent/load_source.hpp"
#include "ec/agent/power_source.hpp"
#include "ec/agent/thermal_source.hpp"

namespace ec::agent {
namespace {

std::string fixed1(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

result<std::vector<time_window>> parse_windows(const std::vector<std::string>& texts, std::string_view key) {
  std::vector<time_window> out;
  for (const auto& t : texts) {
    auto w = parse_time_window(t);
    if (!w) return fail(w.code(), std::string(key) + ": '" + t + "': " + w.err().message);
    out.push_back(std::move(*w));
  }
  return out;
}

}  // namespace

result<owner_policy> owner_policy::create(owner_policy_options options) {
  auto run = parse_windows(options.config.run_windows, "policy.run_windows");
  if (!run) return run.err();
  auto pause = parse_windows(options.config.pause_windows, "policy.pause_windows");
  if (!pause) return pause.err();
  if (!options.local_time)
    options.local_time = [](std::uint64_t now_ms) {
      return local_week_minute(static_cast<std::time_t>(now_ms / 1000));
    };
  return owner_policy(std::move(options), std::move(*run), std::move(*pause));
}

owner_policy::owner_policy(owner_policy_options options, std::vector<time_window> run, std::vector<time_window> pause)
    : options_(std::move(options)), run_windows_(std::move(run)), pause_windows_(std::move(pause)) {
  const std::uint64_t hold = std::uint64_t{options_.config.hysteresis_s} * 1000;
  for (auto& l : latches_) l.h = hysteresis(hold);
  // The owner wrote exact times: a window ends when it says, not a hysteresis period later. Clock time does not
  // flap, so it needs no latch.
  latches_[static_cast<std::size_t>(condition::schedule)].h = hysteresis(0);
}

owner_readings owner_policy::read_sources() const {
  const std::filesystem::path root = options_.config.sysfs_root;
  owner_readings r;
  const auto power = read_power_supplies(root);
  const auto thermal = read_thermal_zones(root);
  const auto load = read_load(root);
  r.on_battery = power.on_battery;
  r.charge_percent = power.charge_percent;
  r.temperature_c = thermal.hottest_c;
  r.thermal_zone = thermal.zone;
  r.load1 = load.load1;
  r.cpus = load.cpus;
  r.gpu_busy_percent = load.gpu_busy_percent;
  if (options_.host) {
    // The host knows its device better than a sysfs it may not even be allowed to read (Android).
    const auto h = options_.host->snapshot();
    if (h.on_battery) r.on_battery = h.on_battery;
    if (h.charge_percent) r.charge_percent = h.charge_percent;
    if (h.temperature_c && (!r.temperature_c || *h.temperature_c > *r.temperature_c)) {
      r.temperature_c = h.temperature_c;
      r.thermal_zone = "host";
    }
    r.metered_network = h.metered_network;
  }
  return r;
}

std::optional<std::string> owner_policy::battery_reason(const owner_readings& r) const {
  if (!r.on_battery.value_or(false)) return std::nullopt;
  const auto& c = options_.config;
  if (c.pause_on_battery) return "on battery";
  if (c.min_battery_percent > 0 && r.charge_percent && *r.charge_percent < c.min_battery_percent)
    return "on battery at " + fixed1(*r.charge_percent) + "% (below " + std::to_string(c.min_battery_percent) + "%)";
  return std::nullopt;
}

std::optional<std::string> owner_policy::temperature_reason(const owner_readings& r) const {
  const auto limit = options_.config.max_temperature_c;
  if (!r.temperature_c || *r.temperature_c <= limit) return std::nullopt;
  return "temperature " + fixed1(*r.temperature_c) + " C in " + r.thermal_zone + " (above " + std::to_string(limit) +
         " C)";
}

std::optional<std::string> owner_policy::schedule_reason(std::uint64_t now_ms) const {
  const auto now = options_.local_time(now_ms);
  for (const auto& w : pause_windows_)
    if (w.contains(now)) return "inside pause window '" + w.text + "'";
  if (!run_windows_.empty() &&
      std::none_of(run_windows_.begin(), run_windows_.end(), [&](const time_window& w) { return w.contains(now); }))
    return std::string("outside the run windows");
  return std::nullopt;
}

std::optional<std::string> owner_policy::cpu_reason(const owner_readings& r, own_activity own) const {
  const auto limit = options_.config.max_cpu_load_percent;
  if (limit == 0 || !r.load1) return std::nullopt;
  const double own_threads = static_cast<double>(own.running_tasks) * std::max(1U, own.threads_per_task);
  const double others = std::max(0.0, *r.load1 - own_threads);
  const double percent = 100.0 * others / std::max(1U, r.cpus);
  if (percent <= limit) return std::nullopt;
  return "CPU busy with other work: load " + fixed1(others) + " on " + std::to_string(r.cpus) + " CPUs (above " +
         std::to_string(limit) + "%)";
}

std::optional<std::string> owner_policy::gpu_reason(const owner_readings& r) const {
  const auto limit = options_.config.max_gpu_busy_percent;
  if (limit == 0 || !r.gpu_busy_percent || *r.gpu_busy_percent <= limit) return std::nullopt;
  return "GPU busy with other work: " + fixed1(*r.gpu_busy_percent) + "% (above " + std::to_string(limit) + "%)";
}

void owner_policy::feed(condition c, std::optional<std::string> reason, std::uint64_t now_ms) {
  auto& l = latches_[static_cast<std::size_t>(c)];
  if (reason) l.reason = std::move(*reason);
  l.h.update(reason.has_value(), now_ms);
}

owner_verdict owner_policy::evaluate(std::uint64_t now_ms, own_activity own) {
  if (!options_.config.enabled) return verdict_ = {};
  readings_ = read_sources();
  const auto& r = readings_;
  feed(condition::battery, battery_reason(r), now_ms);
  feed(condition::temperature, temperature_reason(r), now_ms);
  feed(condition::metered,
       options_.config.pause_on_metered && r.metered_network.value_or(false)
           ? std::optional<std::string>("metered network")
           : std::nullopt,
       now_ms);
  feed(condition::schedule, schedule_reason(now_ms), now_ms);
  feed(condition::cpu_busy, cpu_reason(r, own), now_ms);
  // The utilisation counters include the agent's own kernels: they say something about others only while the
  // agent runs nothing, so the latch is left as it is otherwise.
  if (own.running_tasks == 0) feed(condition::gpu_busy, gpu_reason(r), now_ms);
  owner_verdict v;
  for (const auto& l : latches_) {
    if (!l.h.active()) continue;
    v.paused = true;
    v.reason += (v.reason.empty() ? "" : "; ") + l.reason;
  }
  return verdict_ = std::move(v);
}

std::uint64_t owner_policy::resuming_after_s(std::uint64_t now_ms) const {
  std::uint64_t left_ms = 0;
  for (const auto& l : latches_) {
    if (!l.h.active()) continue;
    if (!l.h.releasing()) return 0;  // a condition still holds: no resume time can be given
    const auto clear = l.h.clear_for_ms(now_ms);
    left_ms = std::max(left_ms, l.h.hold_ms() > clear ? l.h.hold_ms() - clear : 0);
  }
  return (left_ms + 999) / 1000;
}

}  // namespace ec::agent
