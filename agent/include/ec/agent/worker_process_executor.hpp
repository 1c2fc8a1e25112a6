// The worker-process executor, the daemon's default: kernels never run in the agent's process. Each resource
// group gets `slots_per_group` sandboxed worker processes (docs/isolation.md); a task past its deadline gets
// its worker SIGKILLed and restarted, a crash costs one task, and a group that keeps crashing goes out of service.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ec/agent/executor.hpp"
#include "ec/backends/selection.hpp"

namespace ec::agent {

namespace worker {
class worker_slot;
}
class task_queue;
struct queued_task;

/// How workers are started and supervised.
struct worker_executor_options {
  std::string binary = "/proc/self/exe";  // the edge-agent binary (tests name the built one)
  std::filesystem::path state_dir;        // caches; the worker cannot read the rest of it
  std::filesystem::path module_dir;
  std::vector<std::string> disabled_backends;
  unsigned cpu_threads = 0;
  std::uint32_t custom_cache_entries = 8;  // compiled custom kernels per device in each worker
  std::uint64_t memory_limit_mib = 0;      // RLIMIT_DATA per worker; 0: none
  bool idle_priority = true;
  bool landlock = true;  // false: behave as on a kernel without Landlock (root workers then drop to `nobody`)
  std::chrono::milliseconds start_timeout{30'000};  // worker start (its driver discovery) to Ready
  std::chrono::milliseconds kill_grace_min{50};     // SIGKILL at deadline + max(this, budget / 4)
  std::chrono::milliseconds backoff_initial{200};   // restart delay after a crash, doubling...
  std::chrono::milliseconds backoff_max{30'000};    // ...up to this
  std::uint32_t max_crashes = 5;                    // crashes within crash_window take a group out of service
  std::chrono::seconds crash_window{600};
};

/// A resource group as the supervisor sees it (for the hello, status and tests).
struct group_health {
  std::string group;
  bool in_service = true;
  std::uint32_t crashes = 0;   // since start
  std::uint32_t restarts = 0;  // workers started after the first
  std::uint32_t timeouts = 0;  // workers killed at a deadline
  std::string last_failure;
  std::string sandbox;  // what the last worker reported about its sandbox
};

class worker_process_executor final : public executor {
 public:
  worker_process_executor(const backends::device_selector& selector, std::uint32_t slots_per_group,
                          worker_executor_options options);
  ~worker_process_executor() override;
  worker_process_executor(const worker_process_executor&) = delete;
  worker_process_executor& operator=(const worker_process_executor&) = delete;

  void submit(execution_request request, completion done) override;
  void cancel(std::string_view task_id) override;
  void set_paused(bool paused) override;
  void drain() override;
  [[nodiscard]] std::uint32_t free_slots() const override;
  [[nodiscard]] std::size_t queued() const override;
  [[nodiscard]] std::uint32_t total_slots() const override;

  /// Every group's health, in the selector's group order.
  [[nodiscard]] std::vector<group_health> health() const;
  /// Groups taken out of service after repeated crashes (the hello reports them).
  [[nodiscard]] std::vector<std::string> out_of_service_groups() const override;
  /// Waits until every slot has a running worker or its group is out of service; false on timeout.
  bool wait_started(std::chrono::milliseconds timeout) const;

 private:
  struct group_state {
    group_health health;
    std::vector<backends::clock::time_point> recent_crashes;
    backends::clock::time_point restart_not_before{};
    std::uint32_t slots = 0, started = 0;
  };
  struct slot {
    std::string group;
    std::unique_ptr<worker::worker_slot> worker;
    bool ever_started = false;
  };

  void slot_loop(slot& s);
  bool restart(slot& s);
  [[nodiscard]] bool runnable_somewhere(const execution_request& request) const;
  void record_failure(const std::string& group, const std::string& why, bool crashed,
                      std::vector<queued_task>& orphans);
  std::vector<std::string> worker_args_for(const std::string& group) const;
  group_state& state_of(const std::string& group);

  const backends::device_selector& selector_;
  worker_executor_options options_;
  mutable std::mutex mutex_;
  mutable std::condition_variable wake_;
  std::unique_ptr<task_queue> queue_;  // under mutex_
  std::vector<group_state> groups_;
  std::vector<std::unique_ptr<slot>> slots_;
  std::vector<std::thread> threads_;
  std::uint32_t busy_ = 0;
  bool paused_ = false;
  bool stop_ = false;
};

}  // namespace ec::agent
