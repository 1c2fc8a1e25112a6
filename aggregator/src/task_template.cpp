// Task templates in work unit payloads: stored as Task blobs, verified like wire input when read back (the verifier
// only accepts a blob inside a batch body, so each is wrapped in a one-blob batch first).
#include "ec/aggregator/task_template.hpp"

#include <cmath>

#include "ec/aggregator/storage.hpp"
#include "ec/protocol/envelope.hpp"
#include "ec/protocol/message_views.hpp"

namespace ec::aggregator {

protocol::bytes encode_task_template(const protocol::task& templ) { return protocol::build(templ); }

result<protocol::task> decode_task_template(protocol::byte_span payload) {
  protocol::task_batch wrap;
  wrap.agent_id = "template";
  wrap.tasks.emplace_back(payload.begin(), payload.end());
  const auto body = protocol::build(wrap);
  std::vector<protocol::byte_span> blobs;
  if (auto r = protocol::verify_body(protocol::message_kind::task_batch, body, blobs); !r)
    return fail(error_code::malformed, "stored task template: " + r.err().what());
  if (blobs.size() != 1) return fail(error_code::malformed, "stored task template: not one blob");
  return protocol::task_view(blobs[0]).decode();
}

result<protocol::task_result> decode_stored_result(protocol::byte_span blob) {
  protocol::result_batch wrap;
  wrap.agent_id = "stored";
  wrap.results.emplace_back(blob.begin(), blob.end());
  const auto body = protocol::build(wrap);
  std::vector<protocol::byte_span> blobs;
  if (auto r = protocol::verify_body(protocol::message_kind::result_batch, body, blobs); !r)
    return fail(error_code::malformed, "stored result: " + r.err().what());
  if (blobs.size() != 1) return fail(error_code::malformed, "stored result: not one blob");
  return protocol::result_view(blobs[0]).decode();
}

work_unit_row make_work_unit_row(const work_unit& unit, const std::string& job_id, std::uint32_t quorum) {
  work_unit_row w;
  w.wu_id = unit.unit_id;
  w.job_id = job_id;
  w.payload = encode_task_template(unit.task);
  w.replicas_wanted = quorum == 0 ? 1 : quorum;
  // Declared cost in flops (or bytes): whole units, at least 1, bounded so that credit sums cannot overflow.
  const double c = std::ceil(unit.cost);
  w.cost = c < 1 ? 1 : (c > 1e15 ? static_cast<std::uint64_t>(1e15) : static_cast<std::uint64_t>(c));
  return w;
}

}  // namespace ec::aggregator
