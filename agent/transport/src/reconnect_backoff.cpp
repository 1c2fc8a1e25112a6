#include "ec/transport/reconnect_backoff.hpp"

#include <algorithm>

namespace ec::transport {

reconnect_backoff::reconnect_backoff(std::uint32_t min_ms, std::uint32_t max_ms, std::uint64_t seed)
    : min_ms_(std::max<std::uint32_t>(min_ms, 1)),
      max_ms_(std::max(max_ms, std::max<std::uint32_t>(min_ms, 1))),
      rng_(seed != 0 ? seed : (std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}()) {}

std::chrono::milliseconds reconnect_backoff::ceiling(std::uint32_t attempt) const noexcept {
  std::uint64_t c = min_ms_;
  for (std::uint32_t i = 0; i < attempt && c < max_ms_; ++i) c *= 2;
  return std::chrono::milliseconds(std::min<std::uint64_t>(c, max_ms_));
}

std::chrono::milliseconds reconnect_backoff::next_delay(std::uint32_t attempt) {
  const auto cap = static_cast<std::uint64_t>(ceiling(attempt).count());
  std::uniform_int_distribution<std::uint64_t> dist(0, cap);
  return std::chrono::milliseconds(dist(rng_));
}

}  // namespace ec::transport
