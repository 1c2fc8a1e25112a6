#include "event_dispatcher.hpp"

namespace ec::agent::c_api {
namespace {

edge_agent_event view_of(const owned_event& e) {
  edge_agent_event v{};
  v.kind = e.kind;
  v.task_id = e.task_id.c_str();
  v.attempt = e.attempt;
  v.result_status = e.result_status;
  v.result_status_name = e.result_status_name.c_str();
  for (std::size_t i = 0; i < e.result_digest.size(); ++i) v.result_digest[i] = e.result_digest[i];
  v.state = e.state;
  v.reason = e.reason.c_str();
  return v;
}

}  // namespace

void event_dispatcher::set_callback(edge_agent_event_fn fn, void* user) {
  std::lock_guard lock(mu_);
  fn_ = fn;
  user_ = user;
}

void event_dispatcher::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
  thread_id_ = thread_.get_id();
}

void event_dispatcher::stop() {
  {
    std::lock_guard lock(mu_);
    if (!thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  std::lock_guard lock(mu_);
  thread_id_ = {};
}

bool event_dispatcher::on_delivery_thread() const {
  std::lock_guard lock(mu_);
  return thread_id_ == std::this_thread::get_id();
}

void event_dispatcher::post(owned_event event) {
  {
    std::lock_guard lock(mu_);
    if (!fn_) return;
    queue_.push_back(std::move(event));
  }
  wake_.notify_all();
}

std::uint64_t event_dispatcher::delivered() const {
  std::lock_guard lock(mu_);
  return delivered_;
}

void event_dispatcher::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything delivered
    auto event = std::move(queue_.front());
    queue_.pop_front();
    const auto fn = fn_;
    void* user = user_;
    lock.unlock();
    const auto view = view_of(event);
    if (fn) fn(user, &view);
    lock.lock();
    ++delivered_;
  }
}

}  // namespace ec::agent::c_api
