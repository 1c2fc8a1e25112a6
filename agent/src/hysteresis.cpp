// The latch of one owner condition. Pausing is immediate because the conditions protect the owner (a hot or
// draining device); resuming waits, so the agent does not start and stop work every few seconds.
#include "ec/agent/hysteresis.hpp"

namespace ec::agent {

bool hysteresis::update(bool condition, std::uint64_t now_ms) {
  if (condition) {
    active_ = true;
    clearing_ = false;
    return true;
  }
  if (!active_) return false;
  if (!clearing_) {
    clearing_ = true;
    clear_since_ms_ = now_ms;
  }
  // A clock that steps back must not hold the pause forever: restart the count from the new time.
  if (now_ms < clear_since_ms_) clear_since_ms_ = now_ms;
  if (now_ms - clear_since_ms_ >= hold_ms_) {
    active_ = false;
    clearing_ = false;
  }
  return active_;
}

std::uint64_t hysteresis::clear_for_ms(std::uint64_t now_ms) const {
  if (!active_ || !clearing_ || now_ms < clear_since_ms_) return 0;
  return now_ms - clear_since_ms_;
}

}  // namespace ec::agent
