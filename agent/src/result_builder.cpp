// A result never carries outputs without their digest, nor a digest without outputs: the aggregator recomputes
// the digest from the outputs and refuses a mismatch, so both are built here from the same tensors.
#include "ec/agent/result_builder.hpp"

#include <algorithm>

#include "ec/protocol/digests.hpp"
#include "ec/protocol/messages.hpp"

#ifdef EC_TEST_HOOKS
#include <atomic>
#include <cstdlib>
#endif

namespace ec::agent {
namespace {

#ifdef EC_TEST_HOOKS
// Test-only lying agent (docs/aggregator.md, "Testing"), compiled only where EC_TEST_HOOKS is on, never in
// releases. EC_TEST_LIE_RATE=r (0..1) corrupts the outputs of a fraction r of Ok results, chosen by a hash of
// (task_id, attempt) so that runs are reproducible; EC_TEST_LIE_AFTER=n keeps the first n Ok results of the process
// honest, so a liar can earn trust before it cheats. The bytes are changed BEFORE the output digest is computed and
// the result signed: the lie is self-consistent, as a real cheater's would be, and only validation can catch it.
double env_number(const char* name, double fallback) {
  const char* v = std::getenv(name);
  return v == nullptr || *v == '\0' ? fallback : std::strtod(v, nullptr);
}

bool should_lie(const task_identity& task) {
  static const double rate = env_number("EC_TEST_LIE_RATE", 0.0);
  static const auto honest_first = static_cast<std::uint64_t>(env_number("EC_TEST_LIE_AFTER", 0.0));
  static std::atomic<std::uint64_t> ok_results{0};
  if (rate <= 0.0) return false;
  if (ok_results.fetch_add(1) < honest_first) return false;
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a over task_id and attempt
  for (const char c : task.task_id) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  h = (h ^ task.attempt) * 1099511628211ULL;
  return static_cast<double>(h >> 11) * 0x1.0p-53 < rate;
}

// Flips the low bit of the first byte and an exponent bit of the fourth: wrong under exact and tolerance rules.
void corrupt(std::vector<protocol::tensor>& outputs) {
  for (auto& t : outputs) {
    if (t.data.empty()) continue;
    t.data[0] ^= 0x01;
    t.data[std::min<std::size_t>(3, t.data.size() - 1)] ^= 0x40;
    return;
  }
}
#endif

protocol::task_result base(const task_identity& task, std::string_view agent_id, protocol::result_status status,
                           std::uint64_t finished_at_ms) {
  protocol::task_result r;
  r.task_id = task.task_id;
  r.job_id = task.job_id;
  r.attempt = task.attempt;
  r.agent_id = std::string(agent_id);
  r.task_digest.assign(task.task_digest.begin(), task.task_digest.end());
  r.status = status;
  r.finished_at_ms = finished_at_ms;
  return r;
}

}  // namespace

protocol::bytes build_result_blob(const task_identity& task, std::string_view agent_id, const execution_outcome& o,
                                  std::uint64_t finished_at_ms) {
  auto r = base(task, agent_id, o.status, finished_at_ms);
  r.error = o.error;
  if (o.status == protocol::result_status::ok) {
    r.outputs = o.outputs;
#ifdef EC_TEST_HOOKS
    if (should_lie(task)) corrupt(r.outputs);
#endif
    std::vector<protocol::tensor_ref> refs;
    for (const auto& t : r.outputs) refs.push_back(t.ref());
    const auto digest = protocol::output_digest(refs);
    r.output_digest.assign(digest.begin(), digest.end());
  }
  if (!o.device.backend.empty()) {
    r.device = o.device;
    r.device->kernels.clear();  // the hello carries the device's kernel list; a result needs only its identity
    r.device->kernel_versions.clear();
  }
  r.timing = protocol::timings{o.queued_us,       o.timings.compile_us,  o.timings.upload_us,
                               o.timings.exec_us, o.timings.download_us, o.total_us};
  r.energy_uj = o.energy_uj;
  return protocol::build(r);
}

protocol::bytes build_answer_blob(const task_identity& task, std::string_view agent_id, protocol::result_status status,
                                  std::string reason, std::uint64_t finished_at_ms) {
  auto r = base(task, agent_id, status, finished_at_ms);
  r.error = std::move(reason);
  return protocol::build(r);
}

}  // namespace ec::agent
