// The in-process executor: `slots_per_group` threads per resource group, each taking the oldest queued task
// whose kernel has a chosen device in its group. Devices of one group are alternatives and share its slots.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "ec/agent/executor.hpp"
#include "ec/backends/selection.hpp"

namespace ec::agent {

class task_queue;

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
  void worker_loop(const std::string& group);

  const backends::device_selector& selector_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::unique_ptr<task_queue> queue_;  // under mutex_
  std::vector<std::thread> workers_;
  std::uint32_t busy_ = 0;
  bool paused_ = false;
  bool stop_ = false;
};

}  // namespace ec::agent
