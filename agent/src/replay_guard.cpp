// The replay guard (see replay_guard.hpp).
#include "ec/agent/replay_guard.hpp"

#include <algorithm>
#include <string>

namespace ec::agent {

void replay_guard::restore(const journal& j) {
  std::lock_guard lock(mu_);
  j.read([&](const journal_state& s) {
    horizon_ms_ = std::max(horizon_ms_, s.forgotten_before_ms);
    for (const auto& [key, t] : s.tasks) seen_.emplace(key, t.admitted.expires_at_ms);
  });
}

bool replay_guard::first_seen(std::string_view task_id, std::uint32_t attempt, std::uint64_t expires_at_ms) {
  std::lock_guard lock(mu_);
  if (expires_at_ms < horizon_ms_) return false;
  return seen_.emplace(task_key{std::string(task_id), attempt}, expires_at_ms).second;
}

std::size_t replay_guard::forget_expired(std::uint64_t now_ms) {
  std::lock_guard lock(mu_);
  const std::uint64_t before = now_ms > margin_ms_ ? now_ms - margin_ms_ : 0;
  horizon_ms_ = std::max(horizon_ms_, before);
  return std::erase_if(seen_, [&](const auto& kv) { return kv.second < before; });
}

std::size_t replay_guard::size() const {
  std::lock_guard lock(mu_);
  return seen_.size();
}

std::uint64_t replay_guard::horizon_ms() const {
  std::lock_guard lock(mu_);
  return horizon_ms_;
}

}  // namespace ec::agent
