// Slots per resource group, FIFO within what a group can run. Completion callbacks run on the worker thread
// without the executor's lock held, so a callback may submit the next task.
#include "ec/agent/in_process_executor.hpp"

#include "task_queue.hpp"

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

}  // namespace

in_process_executor::in_process_executor(const backends::device_selector& selector, std::uint32_t slots_per_group)
    : selector_(selector), queue_(std::make_unique<task_queue>()) {
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
    queue_->push(std::move(request), std::move(done));
  }
  wake_.notify_all();
}

namespace {

execution_outcome run_one(queued_task& p, const backends::device_entry& device) {
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

}  // namespace

void in_process_executor::worker_loop(const std::string& group) {
  for (;;) {
    std::optional<task_queue::taken> t;
    const auto device_of = [&](const execution_request& r) { return device_for(selector_, r, group); };
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || (!paused_ && (t = queue_->take_first(device_of))); });
      if (stop_ && !t) return;
      ++busy_;
    }
    auto outcome = run_one(t->task, *t->device);
    {
      std::lock_guard lock(mutex_);
      --busy_;
    }
    t->task.done(std::move(outcome));
    wake_.notify_all();  // a slot is free: another worker's predicate may now hold
  }
}

void in_process_executor::cancel(std::string_view task_id) {
  std::vector<queued_task> gone;
  {
    std::lock_guard lock(mutex_);
    gone = queue_->take_id(task_id);
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
  std::vector<queued_task> gone;
  {
    std::lock_guard lock(mutex_);
    gone = queue_->take_all();
  }
  for (auto& p : gone) p.done(cancelled("agent draining"));
}

std::uint32_t in_process_executor::free_slots() const {
  std::lock_guard lock(mutex_);
  return total_slots() - busy_;
}

std::size_t in_process_executor::queued() const {
  std::lock_guard lock(mutex_);
  return queue_->size();
}

}  // namespace ec::agent
