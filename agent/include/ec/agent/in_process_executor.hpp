// The in-process executor: `slots_per_group` threads per resource group, each taking the oldest queued task
// whose kernel has a chosen device in its group. Devices of one group are alternatives and share its slots.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "ec/agent/executor.hpp"
#include "ec/backends/selection.hpp"

namespace ec::agent {

class in_process_executor final : public executor {
public:
  in_process_executor(const backends::device_selector& selector, std::uint32_t slots_per_group);
  ~in_process_executor() override;
  in_process_executor(const in_process_executor&) = delete;
  in_process_executor& operator=(const in_process_executor&) = delete;

  void submit(execution_request request, completion done) override;
  void cancel(std::string_view task_id) override;
  void set_paused(bool paused) override;
  void drain() override;
  [[nodiscard]] std::uint32_t free_slots() const override;
  [[nodiscard]] std::size_t queued() const override;
  [[nodiscard]] std::uint32_t total_slots() const override { return static_cast<std::uint32_t>(workers_.size()); }

private:
  struct pending {
    execution_request request;
    completion done;
    backends::clock::time_point submitted;
  };
  void worker_loop(const std::string& group);
  bool take_for(const std::string& group, pending& out, const backends::device_entry*& device);
  static execution_outcome run_one(pending& p, const backends::device_entry& device);

  const backends::device_selector& selector_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<pending> queue_;
  std::vector<std::thread> workers_;
  std::uint32_t busy_ = 0;
  bool paused_ = false;
  bool stop_ = false;
};

}  // namespace ec::agent
