// Offset estimation over a sliding window of signed timestamps (see the header for why the maximum).
#include "ec/agent/aggregator_clock.hpp"

#include <algorithm>

namespace ec::agent {

void aggregator_clock::observe(std::uint64_t aggregator_ms, std::uint64_t local_ms) {
  if (aggregator_ms == 0) return;  // unset field: no information
  offsets_[samples_ % window] = static_cast<std::int64_t>(aggregator_ms) - static_cast<std::int64_t>(local_ms);
  ++samples_;
}

std::int64_t aggregator_clock::offset_ms() const {
  if (samples_ == 0) return 0;
  const auto n = std::min(samples_, window);
  return *std::max_element(offsets_.begin(), offsets_.begin() + static_cast<std::ptrdiff_t>(n));
}

std::uint64_t aggregator_clock::now(std::uint64_t local_ms) const {
  const auto t = static_cast<std::int64_t>(local_ms) + offset_ms();
  return t > 0 ? static_cast<std::uint64_t>(t) : 0;
}

}  // namespace ec::agent
