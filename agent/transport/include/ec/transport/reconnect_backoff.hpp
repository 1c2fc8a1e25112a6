// The reconnect delay: exponential from a floor to a ceiling, with full jitter so that a region's agents do
// not reconnect in lockstep after a broker restart (protocol.md, "Timers and limits").
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace ec::transport {

/// Delay before reconnect attempt n: uniform in [0, min(max, min_delay * 2^n)] ("full jitter").
class reconnect_backoff {
 public:
  /// min_ms is the first ceiling (1 s by default), max_ms the last (60 s); seed 0 seeds from random_device.
  reconnect_backoff(std::uint32_t min_ms, std::uint32_t max_ms, std::uint64_t seed = 0);

  /// The ceiling for attempt n (0-based, saturating): min(max, min * 2^n).
  [[nodiscard]] std::chrono::milliseconds ceiling(std::uint32_t attempt) const noexcept;

  /// A jittered delay for attempt n, uniform in [0, ceiling(n)].
  std::chrono::milliseconds next_delay(std::uint32_t attempt);

 private:
  std::uint32_t min_ms_;
  std::uint32_t max_ms_;
  std::mt19937_64 rng_;
};

}  // namespace ec::transport
