#include "ec/agent/energy_history.hpp"

#include <algorithm>

namespace ec::agent {

energy_history::energy_history(const std::filesystem::path& sysfs_root, std::uint64_t horizon_us)
    : meter_(sysfs_root), horizon_us_(horizon_us) {}

std::optional<double> energy_history::sample(std::uint64_t now_us, unsigned busy_tasks) {
  std::lock_guard lock(mu_);
  return sample_locked(now_us, busy_tasks);
}

std::optional<double> energy_history::sample_locked(std::uint64_t now_us, unsigned busy_tasks) {
  if (meter_.source() == "none") return std::nullopt;
  if (last_us_ && now_us <= *last_us_) return 0.0;  // two samples in one microsecond: nothing new to read
  const auto joules = meter_.sample(now_us / 1000);
  if (!joules) return std::nullopt;
  if (last_us_) intervals_.push_back({*last_us_, now_us, *joules, busy_tasks});
  last_us_ = now_us;
  while (!intervals_.empty() && intervals_.front().to_us + horizon_us_ < now_us) intervals_.pop_front();
  return joules;
}

std::optional<double> energy_history::task_joules(std::uint64_t start_us, std::uint64_t end_us,
                                                  unsigned busy_tasks) {
  std::lock_guard lock(mu_);
  if (!sample_locked(end_us, busy_tasks)) return std::nullopt;
  double total = 0;
  for (const auto& i : intervals_) {
    const auto from = std::max(i.from_us, start_us);
    const auto to = std::min(i.to_us, end_us);
    if (to <= from || i.to_us <= i.from_us) continue;
    const double overlap = static_cast<double>(to - from) / static_cast<double>(i.to_us - i.from_us);
    total += i.joules * overlap / std::max(1U, i.tasks);
  }
  return total;
}

std::optional<double> energy_history::total_joules() const {
  std::lock_guard lock(mu_);
  return meter_.total_joules();
}

std::string energy_history::source() const {
  std::lock_guard lock(mu_);
  return meter_.source();
}

}  // namespace ec::agent
