// The host's pause (edge_agent_pause) on top of the executor the config chose: the runtime's own pause (an
// aggregator Control) and the host's combine, paused if either says so.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>

#include "ec/agent/executor.hpp"

namespace ec::agent::c_api {

/// Forwards to an executor; while the host pauses, queued tasks wait and the runtime is told there is no room,
/// so it stops pulling (the runtime sizes its WorkRequests from free_slots() and queued()).
class host_paused_executor final : public executor {
 public:
  explicit host_paused_executor(std::unique_ptr<executor> inner) : inner_(std::move(inner)) {}

  /// Sets the host's pause; the executor is paused while either the host or the runtime says so.
  void set_host_paused(bool paused);
  [[nodiscard]] bool host_paused() const { return host_paused_.load(); }

  void submit(execution_request request, completion done) override {
    inner_->submit(std::move(request), std::move(done));
  }
  void cancel(std::string_view task_id) override { inner_->cancel(task_id); }
  void set_paused(bool paused) override;
  void drain() override { inner_->drain(); }
  [[nodiscard]] std::uint32_t free_slots() const override;
  [[nodiscard]] std::size_t queued() const override;
  [[nodiscard]] std::uint32_t total_slots() const override { return inner_->total_slots(); }

 private:
  void apply_locked();

  std::unique_ptr<executor> inner_;
  std::mutex mu_;
  bool runtime_paused_ = false;
  std::atomic<bool> host_paused_{false};
};

}  // namespace ec::agent::c_api
