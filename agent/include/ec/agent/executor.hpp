// Where admitted tasks run. One interface, two implementations: the in-process executor here (phone apps, tests,
// the daemon until the isolation issue's supervised worker processes replace it as the default).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ec/backends/device.hpp"

namespace ec::agent {

/// One task to run: the checked call (its tensor refs point into `keep_alive`), its deadline and hint.
struct execution_request {
  std::string task_id;
  std::uint32_t attempt = 0;
  kernels::bound_call call;                     // catalogue kernels; call.spec is null for custom code
  std::optional<backends::custom_call> custom;  // custom kernels (protocol.md): signed code, views into keep_alive
  std::string backend_hint;
  backends::clock::time_point deadline;
  std::shared_ptr<const void> keep_alive;  // owner of the bytes the call points into (the Task blob)
};

/// How it went. outputs are set only for status ok.
struct execution_outcome {
  protocol::result_status status = protocol::result_status::kernel_error;
  std::string error;
  std::vector<protocol::tensor> outputs;
  backends::run_timings timings;
  protocol::device_info device;  // the device that ran it (empty when none did)
  std::uint64_t queued_us = 0;   // from submit to start
  std::uint64_t total_us = 0;    // from submit to completion
  std::optional<std::uint64_t> energy_uj;  // set by the runtime from the device's sensors; nothing: unknown
};

class executor {
public:
  using completion = std::function<void(execution_outcome)>;
  virtual ~executor() = default;
  /// Queues a request; `done` is called exactly once, from an executor thread (or from the caller for an
  /// immediate answer such as a drain).
  virtual void submit(execution_request request, completion done) = 0;
  /// A queued task is answered Cancelled at once; a running one finishes (GPU work cannot be interrupted).
  virtual void cancel(std::string_view task_id) = 0;
  /// Paused: queued tasks wait, running ones finish.
  virtual void set_paused(bool paused) = 0;
  /// Answers every queued task Cancelled.
  virtual void drain() = 0;
  /// Slots not running a task now, over all resource groups.
  [[nodiscard]] virtual std::uint32_t free_slots() const = 0;
  /// Tasks waiting for a slot.
  [[nodiscard]] virtual std::size_t queued() const = 0;
  /// Every slot, over all resource groups.
  [[nodiscard]] virtual std::uint32_t total_slots() const = 0;
  /// Resource groups taken out of service (the hello reports them); none unless workers keep crashing.
  [[nodiscard]] virtual std::vector<std::string> out_of_service_groups() const { return {}; }
};

}  // namespace ec::agent
