// The aggregator's clock as seen from this device. Expiry is judged on the aggregator's clock, learnt from the
// timestamps in its signed messages, so a board without a real-time clock works before NTP has run.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace ec::agent {

class aggregator_clock {
public:
  /// A signed aggregator message stamped `aggregator_ms` arrived at local time `local_ms`.
  void observe(std::uint64_t aggregator_ms, std::uint64_t local_ms);
  /// The aggregator's time now; the local time itself until a first message was seen.
  [[nodiscard]] std::uint64_t now(std::uint64_t local_ms) const;
  /// Whether any signed timestamp has been seen.
  [[nodiscard]] bool synced() const { return samples_ > 0; }
  /// aggregator - local, in ms.
  [[nodiscard]] std::int64_t offset_ms() const;

private:
  // Transit delay only ever makes a sample look like an earlier aggregator clock, so the largest offset of the
  // recent samples is the best estimate; a window lets a clock step (NTP on either side) age out.
  static constexpr std::size_t window = 16;
  std::array<std::int64_t, window> offsets_{};
  std::size_t samples_ = 0;
};

}  // namespace ec::agent
