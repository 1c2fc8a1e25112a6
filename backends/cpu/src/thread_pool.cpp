// Workers run at SCHED_IDLE so a kernel on the CPU never competes with the owner's own work (the agent is a
// guest on the device); the calling thread keeps its priority, being the agent's executor thread.
#include "thread_pool.hpp"

#include <pthread.h>
#include <sched.h>

#include <algorithm>

namespace ec::backends::cpu {
namespace {

void lower_to_idle_priority() {
  sched_param p{};
  p.sched_priority = 0;
  // Failure is harmless (a seccomp profile may deny it): the thread then runs at normal priority.
  (void)pthread_setschedparam(pthread_self(), SCHED_IDLE, &p);
}

}  // namespace

thread_pool::thread_pool(unsigned threads) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 1; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

thread_pool::~thread_pool() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void thread_pool::drain(job& j) {
  for (;;) {
    const std::uint64_t begin = j.next.fetch_add(j.chunk);
    if (begin >= j.count) return;
    if (!(*j.keep_going)()) {
      j.skipped = true;
      return;
    }
    (*j.body)(begin, std::min(j.count, begin + j.chunk));
  }
}

void thread_pool::worker_loop() {
  lower_to_idle_priority();
  std::uint64_t seen = 0;
  for (;;) {
    job* j = nullptr;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || (current_ && generation_ != seen); });
      if (stop_) return;
      seen = generation_;
      j = current_;
      ++busy_;
    }
    drain(*j);
    {
      std::lock_guard lock(mutex_);
      --busy_;
    }
    done_.notify_all();
  }
}

bool thread_pool::parallel_for(std::uint64_t count, const std::function<void(std::uint64_t, std::uint64_t)>& body,
                               const std::function<bool()>& keep_going) {
  if (count == 0) return true;
  std::lock_guard run_lock(run_mutex_);
  job j;
  j.count = count;
  // About 8 chunks per thread: uneven progress (an idle-priority worker preempted) still balances out.
  j.chunk = std::max<std::uint64_t>(1, count / (std::uint64_t{size()} * 8));
  j.body = &body;
  j.keep_going = &keep_going;
  {
    std::lock_guard lock(mutex_);
    current_ = &j;
    ++generation_;
  }
  wake_.notify_all();
  drain(j);
  std::unique_lock lock(mutex_);
  current_ = nullptr;  // late workers that wake now find no job
  done_.wait(lock, [&] { return busy_ == 0; });
  return !j.skipped;
}

}  // namespace ec::backends::cpu
