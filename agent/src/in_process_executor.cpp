// Slots per resource group, FIFO within what a group can run. Completion callbacks run on the worker thread
// without the executor's lock held, so a callback may submit the next task.
#include "ec/agent/in_process_executor.hpp"

#include "custom_kernels.hpp"

namespace ec::agent {
namespace {

std::uint64_t us_between(backends::clock::time_point a, backends::clock::time_point b) {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(b - a).count());
}

execution_outcome cancelled(std::string why) {
  execution_outcome o;
  o.status = protocol::result_status::cancelled;
  o.error = std::move(why);
  return o;
}

protocol::result_status status_of(error_code code) {
  switch (code) {
    case error_code::timeout: return protocol::result_status::timeout;
    case error_code::unsupported: return protocol::result_status::unsupported;
    case error_code::invalid_argument: return protocol::result_status::rejected;
    default: return protocol::result_status::kernel_error;
  }
}

}  // namespace

in_process_executor::in_process_executor(const backends::device_selector& selector, std::uint32_t slots_per_group)
    : selector_(selector) {
  for (const auto& group : selector_.resource_groups())
    for (std::uint32_t i = 0; i < std::max(1u, slots_per_group); ++i)
      workers_.emplace_back([this, group] { worker_loop(group); });
}

in_process_executor::~in_process_executor() {
  drain();
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

void in_process_executor::submit(execution_request request, completion done) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back({std::move(request), std::move(done), backends::clock::now()});
  }
  wake_.notify_all();
}

bool in_process_executor::take_for(const std::string& group, pending& out, const backends::device_entry*& device) {
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    const auto& req = it->request;
    const auto* d = req.custom ? choose_custom_device(selector_, *req.custom, group, req.backend_hint)
                               : selector_.choose(req.call.spec->name, group, req.backend_hint);
    if (!d) continue;
    out = std::move(*it);
    queue_.erase(it);
    device = d;
    return true;
  }
  return false;
}

execution_outcome in_process_executor::run_one(pending& p, const backends::device_entry& device) {
  execution_outcome o;
  const auto start = backends::clock::now();
  o.queued_us = us_between(p.submitted, start);
  o.device = device.info;
  auto r = p.request.custom ? device.dev->run_custom(*p.request.custom, p.request.deadline)
                            : device.dev->run(p.request.call, p.request.deadline);
  if (r) {
    o.status = protocol::result_status::ok;
    o.outputs = std::move(r->outputs);
    o.timings = r->timings;
  } else {
    o.status = status_of(r.code());
    o.error = r.err().what();
  }
  o.total_us = us_between(p.submitted, backends::clock::now());
  return o;
}

void in_process_executor::worker_loop(const std::string& group) {
  for (;;) {
    pending p;
    const backends::device_entry* device = nullptr;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || (!paused_ && take_for(group, p, device)); });
      if (stop_ && !device) return;
      ++busy_;
    }
    auto outcome = run_one(p, *device);
    {
      std::lock_guard lock(mutex_);
      --busy_;
    }
    p.done(std::move(outcome));
    wake_.notify_all();  // a slot is free: another worker's predicate may now hold
  }
}

void in_process_executor::cancel(std::string_view task_id) {
  std::vector<pending> gone;
  {
    std::lock_guard lock(mutex_);
    for (auto it = queue_.begin(); it != queue_.end();) {
      if (it->request.task_id == task_id) {
        gone.push_back(std::move(*it));
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& p : gone) p.done(cancelled("cancelled by the aggregator"));
}

void in_process_executor::set_paused(bool paused) {
  {
    std::lock_guard lock(mutex_);
    paused_ = paused;
  }
  wake_.notify_all();
}

void in_process_executor::drain() {
  std::deque<pending> gone;
  {
    std::lock_guard lock(mutex_);
    gone.swap(queue_);
  }
  for (auto& p : gone) p.done(cancelled("agent draining"));
}

std::uint32_t in_process_executor::free_slots() const {
  std::lock_guard lock(mutex_);
  return total_slots() - busy_;
}

std::size_t in_process_executor::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

}  // namespace ec::agent
