// Hysteresis in time for one pausing condition: it pauses at once and resumes only after the condition has been
// clear for a hold period, so a reading that flaps around its threshold does not flap the agent.
#pragma once

#include <cstdint>

namespace ec::agent {

/// One condition's latch: set at once, cleared after hold_ms of continuous clear readings.
class hysteresis {
 public:
  /// A latch that releases on the first clear reading.
  hysteresis() = default;
  /// hold_ms: how long the condition must stay clear before the latch releases.
  explicit hysteresis(std::uint64_t hold_ms) : hold_ms_(hold_ms) {}

  /// Feeds one reading taken at now_ms; returns whether the latch holds (pause) afterwards.
  bool update(bool condition, std::uint64_t now_ms);
  /// Whether the latch holds now.
  [[nodiscard]] bool active() const { return active_; }
  /// Whether the latch holds but the condition is clear: the hold period is running.
  [[nodiscard]] bool releasing() const { return active_ && clearing_; }
  /// Milliseconds the condition has been clear while the latch still holds (0 when not releasing).
  [[nodiscard]] std::uint64_t clear_for_ms(std::uint64_t now_ms) const;
  /// The hold period.
  [[nodiscard]] std::uint64_t hold_ms() const { return hold_ms_; }

 private:
  std::uint64_t hold_ms_ = 0;
  bool active_ = false;
  bool clearing_ = false;  // active, and the last readings were clear
  std::uint64_t clear_since_ms_ = 0;
};

}  // namespace ec::agent
