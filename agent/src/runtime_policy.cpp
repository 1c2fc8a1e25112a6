// The runtime's pause sources and the energy meter. The owner policy is evaluated once a second by the timer thread;
// the host's pause (C API) is set by the host. The agent pulls no work and the executor starts no queued task while
// the aggregator's Control, the owner policy or the host says pause (running tasks finish). The reason goes into
// the hello and `edge-agent status`.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "ec/agent/agent_runtime.hpp"
#include "ec/agent/log.hpp"

namespace ec::agent {
namespace {

constexpr std::string_view component = "policy";

std::string fixed1(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string joules_text(const std::optional<double>& j) { return j ? fixed1(*j) : std::string("unknown"); }

// One clock for every energy sample (the timer's and the executor threads'): steady, in microseconds.
std::uint64_t monotonic_us() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

}  // namespace

result<void> agent_runtime::start_owner_policy() {
  const auto& c = parts_.config->policy;
  auto policy = owner_policy::create({c, parts_.host_feed, {}});
  if (!policy) return policy.err();
  policy_.emplace(std::move(*policy));
  {
    std::lock_guard lock(mu_);
    energy_source_ = energy_->source();
  }
  // Before the first connect, so that the first hello already tells the truth.
  update_owner_policy(now());
  log(log_level::info, component, "owner policy started",
      {{"enabled", c.enabled}, {"sysfs_root", c.sysfs_root}, {"energy_sensors", energy_->source()}});
  return {};
}

void agent_runtime::update_owner_policy(std::uint64_t now_ms) {
  own_activity own;
  bool busy = false;
  unsigned slots_busy = 0;
  {
    std::lock_guard lock(mu_);
    own.running_tasks = static_cast<unsigned>(running_);
    busy = running_ > 0;
    slots_busy = busy_slots_locked();
  }
  const auto threads = parts_.config->devices.cpu_threads;
  own.threads_per_task = threads != 0 ? threads : std::max(1U, std::thread::hardware_concurrency());
  const auto verdict = policy_->evaluate(now_ms, own);
  const auto joules = energy_->sample(monotonic_us(), slots_busy);
  bool changed = false;
  {
    std::lock_guard lock(mu_);
    changed = verdict != owner_;
    owner_ = verdict;
    owner_readings_ = policy_->readings();
    owner_resume_s_ = policy_->resuming_after_s(now_ms);
    energy_total_j_ = energy_->total_joules();
    if (joules && busy) energy_busy_j_ = energy_busy_j_.value_or(0) + *joules;
  }
  if (!changed) return;
  log(log_level::info, component, verdict.paused ? "owner policy pauses work" : "owner policy resumes work",
      {{"reason", verdict.reason}});
  announce_pause_change();
}

unsigned agent_runtime::busy_slots() const {
  std::lock_guard lock(mu_);
  return busy_slots_locked();
}

unsigned agent_runtime::busy_slots_locked() const {
  return static_cast<unsigned>(std::min<std::size_t>(running_, parts_.exec->total_slots()));
}

std::optional<std::uint64_t> agent_runtime::task_energy_uj(const execution_outcome& outcome) {
  const auto end = monotonic_us();
  const auto run_us = outcome.total_us > outcome.queued_us ? outcome.total_us - outcome.queued_us : 0;
  // Still counted in running_ (it is decremented after the result is built): at least this task is busy.
  const auto joules = energy_->task_joules(end > run_us ? end - run_us : 0, end, std::max(1U, busy_slots()));
  if (!joules) return std::nullopt;
  return static_cast<std::uint64_t>(*joules * 1e6 + 0.5);
}

void agent_runtime::set_host_paused(bool paused) {
  {
    std::lock_guard lock(mu_);
    if (host_paused_ == paused) return;
    host_paused_ = paused;
  }
  log(log_level::info, component, paused ? "host pauses work" : "host resumes work");
  announce_pause_change();
  if (!paused) maybe_request_work();
}

void agent_runtime::announce_pause_change() {
  sync_executor_pause();
  if (!timer_.joinable()) return;  // not started yet: the first hello tells the aggregator
  bool connected = false;
  {
    std::lock_guard lock(mu_);
    connected = connected_;
  }
  if (connected) publish_hello();  // otherwise the hello on (re)connect carries it
  write_status_file(true);
}

void agent_runtime::sync_executor_pause() {
  std::lock_guard order(pause_mu_);
  bool paused = false;
  {
    std::lock_guard lock(mu_);
    paused = state_ == protocol::agent_state::pause || owner_.paused || host_paused_;
  }
  parts_.exec->set_paused(paused);
}

protocol::agent_state agent_runtime::effective_state_locked() const {
  if (state_ == protocol::agent_state::run && (owner_.paused || host_paused_)) return protocol::agent_state::pause;
  return state_;
}

std::string agent_runtime::paused_reason_locked() const {
  std::string reason;
  if (state_ == protocol::agent_state::pause) reason = "aggregator control";
  if (owner_.paused) reason += (reason.empty() ? "owner: " : "; owner: ") + owner_.reason;
  if (host_paused_) reason += reason.empty() ? "host application" : "; host application";
  return reason;
}

std::string agent_runtime::paused_reason() const {
  std::lock_guard lock(mu_);
  return paused_reason_locked();
}

std::string agent_runtime::owner_status_lines() {
  std::lock_guard lock(mu_);
  const auto& r = owner_readings_;
  std::string text;
  auto line = [&](const char* key, const std::string& value) { text += std::string(key) + " " + value + "\n"; };
  line("paused_reason", paused_reason_locked().empty() ? "none" : paused_reason_locked());
  std::string policy = !parts_.config->policy.enabled ? "off" : owner_.paused ? "pause" : "run";
  if (owner_.paused && owner_resume_s_ > 0)
    policy += " (resumes in " + std::to_string(owner_resume_s_) + " s if clear)";
  line("owner_policy", policy);
  std::string power = !r.on_battery ? "unknown" : *r.on_battery ? "battery" : "mains";
  if (r.charge_percent) power += " " + fixed1(*r.charge_percent) + "%";
  line("power", power);
  line("temperature_c", r.temperature_c ? fixed1(*r.temperature_c) + " (" + r.thermal_zone + ")" : "unknown");
  line("metered_network", !r.metered_network ? "unknown" : *r.metered_network ? "yes" : "no");
  line("load_average", r.load1 ? fixed1(*r.load1) + " on " + std::to_string(r.cpus) + " CPUs" : "unknown");
  line("energy_sensors", energy_source_);
  line("energy_total_j", joules_text(energy_total_j_));
  line("energy_busy_j", joules_text(energy_busy_j_));
  // Whole package or board while tasks ran, idle draw included, over the tasks admitted: measured, not modelled.
  const bool per_task = energy_busy_j_ && stats_.tasks_admitted > 0;
  line("energy_per_task_j",
       per_task ? fixed1(*energy_busy_j_ / static_cast<double>(stats_.tasks_admitted)) : std::string("unknown"));
  return text;
}

}  // namespace ec::agent
