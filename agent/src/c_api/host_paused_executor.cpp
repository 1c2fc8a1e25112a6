#include "host_paused_executor.hpp"

#include <limits>

namespace ec::agent::c_api {

void host_paused_executor::set_host_paused(bool paused) {
  std::lock_guard lock(mu_);
  host_paused_ = paused;
  apply_locked();
}

void host_paused_executor::set_paused(bool paused) {
  std::lock_guard lock(mu_);
  runtime_paused_ = paused;
  apply_locked();
}

void host_paused_executor::apply_locked() { inner_->set_paused(runtime_paused_ || host_paused_); }

std::uint32_t host_paused_executor::free_slots() const { return host_paused_ ? 0 : inner_->free_slots(); }

// While the host pauses, a full prefetch queue: the runtime then asks for no tasks at all.
std::size_t host_paused_executor::queued() const {
  return host_paused_ ? std::numeric_limits<std::uint32_t>::max() : inner_->queued();
}

}  // namespace ec::agent::c_api
