// Receiver check 7 for a Task, after open() and the replay guard: addressing, expiry on the aggregator's clock,
// validity window, kernel and version, arguments against the kernel's ABI, declared outputs, message cap, device
// limits. The verdict says whether to run it, to answer it (signed Rejected/Expired/Unsupported) or to drop it.
#pragma once

#include <cstdint>
#include <string>

#include "ec/backends/selection.hpp"
#include "ec/kernels/kernel_spec.hpp"
#include "ec/protocol/message_views.hpp"
#include "ec/protocol/trust_store.hpp"

namespace ec::agent {

struct admission_limits {
  std::uint64_t max_validity_ms = 24ull * 3600 * 1000;  // expires_at - issued_at
  std::uint64_t max_payload_bytes = 1024 * 1024;        // a Result must fit one message
  bool allow_custom_kernels = false;                    // custom code needs the isolation issue's checks
};

enum class admission_verdict : std::uint8_t {
  admit,   // run it
  answer,  // first seen and addressed to us, but not runnable: answer with `status` and `reason`
  drop,    // misaddressed or forged: drop silently (counted)
};

struct admission_result {
  admission_verdict verdict = admission_verdict::drop;
  protocol::result_status status = protocol::result_status::rejected;
  std::string reason;
  kernels::bound_call call;          // admit: the checked call (tensor refs point into the task blob)
  std::uint64_t output_bytes = 0;    // admit: bytes to reserve in the spool
};

class task_admission {
public:
  /// `code_trust` holds the keys trusted for custom code (message_kind::code); null: none.
  task_admission(const backends::device_selector& selector, admission_limits limits,
                 const protocol::trust_store* code_trust = nullptr)
      : selector_(selector), limits_(limits), code_trust_(code_trust) {}
  /// Checks a task addressed (by its batch's topic) to `agent_id`, at aggregator time `aggregator_now_ms`.
  [[nodiscard]] admission_result check(const protocol::task_view& task, std::string_view agent_id,
                                       std::uint64_t aggregator_now_ms) const;

private:
  [[nodiscard]] admission_result check_custom(const protocol::task_view& task) const;
  [[nodiscard]] std::string custom_device_problem(const protocol::task_view& task) const;
  [[nodiscard]] std::string device_limits_problem(const protocol::task_view& task, const kernels::bound_call& call) const;
  const backends::device_selector& selector_;
  admission_limits limits_;
  const protocol::trust_store* code_trust_ = nullptr;
};

/// Upper bound of the serialized size of a Result carrying `outputs` (fields, device info, signature margin).
std::uint64_t result_size_bound(const std::vector<kernels::output_spec>& outputs);

}  // namespace ec::agent
