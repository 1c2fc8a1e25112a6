// The tasks waiting for a slot, shared by both executors: FIFO within what a resource group can run, so a task
// no device of one group runs never blocks that group's later tasks. Not locked: each executor holds its own
// mutex around every call (its slots wait on a condition variable under that mutex).
#pragma once

#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ec/agent/executor.hpp"
#include "ec/backends/selection.hpp"

namespace ec::agent {

/// A task waiting for a slot, with when it was submitted (its queued time is measured from here).
struct queued_task {
  execution_request request;
  executor::completion done;
  backends::clock::time_point submitted;
};

/// The device of `group` that runs `request` (custom code: a device with code for it; catalogue kernels: the
/// selector's choice, the backend hint first), or null when none of the group's devices can.
const backends::device_entry* device_for(const backends::device_selector& selector, const execution_request& request,
                                         const std::string& group);

/// The result status of a backend error: Timeout, Unsupported, Rejected (invalid argument), else KernelError.
protocol::result_status status_of(error_code code);

class task_queue {
 public:
  /// Appends a task, stamped with the submit time.
  void push(execution_request request, executor::completion done);
  /// A task taken from the queue with the device that runs it.
  struct taken {
    queued_task task;
    const backends::device_entry* device = nullptr;
  };
  /// Removes and returns the oldest task for which `device_of` gives a device; nothing when none.
  std::optional<taken> take_first(
      const std::function<const backends::device_entry*(const execution_request&)>& device_of);
  /// Removes and returns every task for which `drop` holds, in queue order.
  std::vector<queued_task> take_if(const std::function<bool(const execution_request&)>& drop);
  /// Removes and returns the tasks with this id (a cancel).
  std::vector<queued_task> take_id(std::string_view task_id);
  /// Removes and returns every task (a drain).
  std::vector<queued_task> take_all();
  [[nodiscard]] std::size_t size() const { return tasks_.size(); }

 private:
  std::deque<queued_task> tasks_;
};

}  // namespace ec::agent
