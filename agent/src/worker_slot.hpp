// The supervisor's side of one worker process: start it and wait for Ready, hand it one task at a time through
// the arena, enforce the deadline with SIGKILL, and turn a crash into one failed task.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "ec/agent/executor.hpp"
#include "ec/backends/registry.hpp"
#include "worker_arena.hpp"
#include "worker_frame.hpp"
#include "worker_spawn.hpp"

namespace ec::agent::worker {

/// How a worker is started: the binary and its `worker` arguments (without --fd/--arena-fd).
struct slot_spec {
  std::string binary;
  std::vector<std::string> args;
  std::chrono::milliseconds start_timeout{30'000};
  std::chrono::milliseconds kill_grace_min{50};  // after the deadline, at least this long before SIGKILL
};

/// One task's outcome on a worker, and what became of the worker.
struct slot_result {
  execution_outcome outcome;
  bool worker_lost = false;  // the worker is gone (killed at the deadline, crashed, or misbehaved)
  bool crashed = false;      // ...and it was the worker's fault, not a deadline: counts toward backoff
};

class worker_slot {
 public:
  worker_slot() = default;
  ~worker_slot() { stop(); }
  worker_slot(const worker_slot&) = delete;
  worker_slot& operator=(const worker_slot&) = delete;

  /// Starts the worker and waits for its Ready frame (start_timeout); on failure the child is killed.
  result<ready> start(const slot_spec& spec);
  /// Runs one call on `device_id` (a device of this worker); `deadline` is the task's.
  slot_result run(const execution_request& request, const std::string& device_id);
  /// Closes the channel and lets the worker exit (SIGKILL if it does not within a moment).
  void stop();
  [[nodiscard]] bool running() const { return child_.running(); }
  [[nodiscard]] pid_t pid() const { return child_.pid; }

 private:
  result<run_request> stage(const execution_request& request, const std::string& device_id);
  slot_result collect(const run_request& sent, backends::clock::time_point kill_at);
  slot_result lose(protocol::result_status status, std::string why, bool crashed);
  child_process child_;
  shared_arena arena_;
  std::chrono::milliseconds kill_grace_min_{50};
};

}  // namespace ec::agent::worker
