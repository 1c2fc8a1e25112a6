// Receiver check 5: a body passes the FlatBuffers verifier for its root table with one budget shared with its
// nested blobs, then the rules the verifier cannot know: blob count and overlap, enum ranges, tensor sizes.
#include <algorithm>
#include <string>

#include "decoded_size.hpp"
#include "ec/protocol/envelope.hpp"
#include "ec/protocol/messages.hpp"

namespace ec::protocol {
namespace {

using tensors = flatbuffers::Vector<flatbuffers::Offset<wire::Tensor>>;

error malformed(std::string what) { return fail(error_code::malformed, std::move(what)); }

// The verifier budget left for the rest of this body: each verified table is charged once, and what decode()
// would allocate is charged per reference, so shared strings cannot amplify a small body into gigabytes.
struct budget {
  std::uint32_t tables = body_max_tables;
  std::uint64_t decoded_bytes = 0;

  [[nodiscard]] flatbuffers::Verifier::Options options(std::uint32_t depth) const {
    flatbuffers::Verifier::Options o;
    o.max_depth = depth;
    o.max_tables = tables;
    o.check_alignment = true;
    o.check_nested_flatbuffers = false;  // blobs are verified below, against this same budget
    return o;
  }
  bool charge(std::size_t n) {
    if (n > tables) return false;
    tables -= static_cast<std::uint32_t>(n);
    return true;
  }
  bool charge_decoded(std::uint64_t n) {
    if (n > decoded_bytes) return false;
    decoded_bytes -= n;
    return true;
  }
};

error amplified() { return malformed("decoding would expand the body beyond its cap (shared strings or vectors)"); }

// The verifier checks the 4-byte length prefix of a vector, not the alignment of 8-byte elements; reading a
// misaligned [uint64] is undefined behaviour, so such a vector is refused (builders always align it).
bool aligned_u64(const flatbuffers::Vector<std::uint64_t>* v) {
  return !v || reinterpret_cast<std::uintptr_t>(v->Data()) % alignof(std::uint64_t) == 0;
}

template <typename T>
std::size_t count(const flatbuffers::Vector<flatbuffers::Offset<T>>* v) {
  return v ? v->size() : 0;
}

template <typename E>
bool in_range(E e) {
  return static_cast<unsigned>(e) <= static_cast<unsigned>(E::MAX);
}

result<void> check_tensor(const wire::Tensor& t, bool declared_output) {
  if (!in_range(t.dtype())) return fail(error_code::bad_enum, "tensor dtype out of range");
  if (!aligned_u64(t.shape())) return malformed("tensor '" + t.name()->str() + "': shape is not 8-byte aligned");
  std::vector<std::uint64_t> shape;
  if (t.shape()) shape.assign(t.shape()->begin(), t.shape()->end());
  auto size = tensor_byte_size(static_cast<dtype>(t.dtype()), shape);
  if (!size) return fail(error_code::bad_tensor, "tensor '" + t.name()->str() + "': shape overflows");
  const std::uint64_t have = t.data() ? t.data()->size() : 0;
  if (declared_output) {
    if (have != 0) return fail(error_code::bad_tensor, "declared output '" + t.name()->str() + "' carries data");
  } else if (have != *size) {
    return fail(error_code::bad_tensor, "tensor '" + t.name()->str() + "': dtype x shape is " +
                                            std::to_string(*size) + " bytes, data is " + std::to_string(have));
  }
  return {};
}

result<void> check_tensors(const tensors* v, bool declared_outputs) {
  if (!v) return {};
  for (const auto* t : *v)
    if (auto r = check_tensor(*t, declared_outputs); !r) return r;
  return {};
}

result<void> check_device(const wire::DeviceInfo& d) {
  if (!in_range(d.type())) return fail(error_code::bad_enum, "device type out of range");
  return {};
}

bool size_is(const flatbuffers::Vector<std::uint8_t>* v, std::size_t n) { return v && v->size() == n; }
bool empty_or(const flatbuffers::Vector<std::uint8_t>* v, std::size_t n) { return !v || v->size() == 0 || v->size() == n; }

// --- rules per root table, run after the verifier passed ---

result<void> check_task(const wire::Task& t) {
  if (!in_range(t.validation())) return fail(error_code::bad_enum, "task validation out of range");
  const bool says_custom = t.kernel()->string_view() == "custom";
  if (says_custom != (t.custom() != nullptr)) return malformed("kernel is \"custom\" exactly when custom code is set");
  if (const auto* c = t.custom()) {
    if (!size_is(c->code_key_id(), 32) || !size_is(c->code_signature(), 64))
      return malformed("custom kernel needs a 32-byte code_key_id and a 64-byte code_signature");
    if (!aligned_u64(c->global_size())) return malformed("custom kernel global_size is not 8-byte aligned");
  }
  if (t.params())
    for (const auto* p : *t.params())
      if (!in_range(p->dtype())) return fail(error_code::bad_enum, "param dtype out of range");
  if (auto r = check_tensors(t.inputs(), false); !r) return r;
  return check_tensors(t.outputs(), true);
}

std::size_t tables_in(const wire::Task& t) {
  return 1 + (t.custom() ? 1 : 0) + count(t.params()) + count(t.inputs()) + count(t.outputs());
}

result<void> check_result(const wire::Result& r) {
  if (!in_range(r.status())) return fail(error_code::bad_enum, "result status out of range");
  if (!size_is(r.task_digest(), 32)) return malformed("task_digest must be 32 bytes");
  if (!empty_or(r.output_digest(), 32)) return malformed("output_digest must be empty or 32 bytes");
  if (r.device())
    if (auto c = check_device(*r.device()); !c) return c;
  return check_tensors(r.outputs(), false);
}

std::size_t tables_in(const wire::Result& r) {
  return 1 + (r.device() ? 1 : 0) + (r.timings() ? 1 : 0) + count(r.outputs());
}

// The out-of-service list is bounded so a hello cannot make the aggregator store and log an unbounded list.
result<void> check_out_of_service(const flatbuffers::Vector<flatbuffers::Offset<flatbuffers::String>>* groups) {
  if (!groups) return {};
  if (groups->size() > max_out_of_service_groups)
    return malformed("out_of_service names " + std::to_string(groups->size()) + " groups, at most " +
                     std::to_string(max_out_of_service_groups) + " allowed");
  for (const auto* g : *groups)
    if (g->size() > max_resource_group_name)
      return malformed("an out_of_service group name is " + std::to_string(g->size()) + " bytes, at most " +
                       std::to_string(max_resource_group_name) + " allowed");
  return {};
}

result<void> check_hello(const wire::AgentHello& h) {
  if (!in_range(h.state())) return fail(error_code::bad_enum, "agent state out of range");
  if (h.devices())
    for (const auto* d : *h.devices())
      if (auto r = check_device(*d); !r) return r;
  return check_out_of_service(h.out_of_service());
}

result<void> check_receipt(const wire::Receipt& r) {
  if (r.entries())
    for (const auto* e : *r.entries())
      if (!empty_or(e->result_digest(), 32)) return malformed("receipt result_digest must be empty or 32 bytes");
  return {};
}

result<void> check_control(const wire::Control& c) {
  if (!in_range(c.desired_state())) return fail(error_code::bad_enum, "desired state out of range");
  return {};
}

// Blob byte ranges inside the body: at most 256, each aligned like a buffer, none overlapping another.
template <typename Blob>
result<void> collect_blobs(byte_span body, const flatbuffers::Vector<flatbuffers::Offset<Blob>>* v,
                           std::vector<byte_span>& blobs) {
  blobs.clear();
  if (!v) return {};
  if (v->size() > max_blobs_per_batch)
    return malformed("batch holds " + std::to_string(v->size()) + " blobs, at most 256 allowed");
  for (const auto* b : *v) {
    const auto* data = b->bytes();
    if (data->size() < min_buffer_size) return malformed("blob too small to hold a message");
    if ((data->data() - body.data()) % 8 != 0) return malformed("blob is not 8-byte aligned");
    blobs.emplace_back(data->data(), data->size());
  }
  std::vector<byte_span> sorted = blobs;
  std::sort(sorted.begin(), sorted.end(), [](byte_span a, byte_span b) { return a.data() < b.data(); });
  for (std::size_t i = 1; i < sorted.size(); ++i)
    if (sorted[i - 1].data() + sorted[i - 1].size() > sorted[i].data()) return malformed("blobs overlap");
  return {};
}

// Verifies each blob as its own buffer (so its offsets cannot reach outside it), charging the shared budget.
template <typename Root, typename Check, typename Count>
result<void> verify_blobs(const std::vector<byte_span>& blobs, const char* identifier, budget& left, Check check,
                          Count tables_of) {
  for (std::size_t i = 0; i < blobs.size(); ++i) {
    flatbuffers::Verifier v(blobs[i].data(), blobs[i].size(), left.options(body_max_depth - 3));
    if (!v.VerifyBuffer<Root>(identifier))
      return malformed("blob " + std::to_string(i) + " fails the verifier (or its identifier is not " +
                       identifier + ")");
    const auto* root = flatbuffers::GetRoot<Root>(blobs[i].data());
    if (!left.charge(tables_of(*root))) return malformed("verifier budget exhausted by nested blobs");
    if (auto r = check(*root); !r) return error{r.err().code, "blob " + std::to_string(i) + ": " + r.err().message};
    if (!left.charge_decoded(detail::decoded_size(*root))) return amplified();
  }
  return {};
}

template <typename Root>
const Root* verify_root(byte_span body, budget& left) {
  flatbuffers::Verifier v(body.data(), body.size(), left.options(body_max_depth));
  if (!v.VerifyBuffer<Root>(nullptr)) return nullptr;
  const auto* root = flatbuffers::GetRoot<Root>(body.data());
  if (!left.charge_decoded(detail::decoded_size(*root))) return nullptr;
  return root;
}

result<void> verify_task_batch(byte_span body, budget& left, std::vector<byte_span>& blobs) {
  const auto* root = verify_root<wire::TaskBatch>(body, left);
  if (!root) return malformed("TaskBatch fails the verifier or its decoded-size cap");
  if (!left.charge(1 + count(root->tasks()))) return malformed("verifier budget exhausted");
  if (auto r = collect_blobs(body, root->tasks(), blobs); !r) return r;
  return verify_blobs<wire::Task>(blobs, wire::TaskIdentifier(), left, check_task,
                                  [](const wire::Task& t) { return tables_in(t); });
}

result<void> verify_result_batch(byte_span body, budget& left, std::vector<byte_span>& blobs) {
  const auto* root = verify_root<wire::ResultBatch>(body, left);
  if (!root) return malformed("ResultBatch fails the verifier or its decoded-size cap");
  if (!left.charge(1 + count(root->results()))) return malformed("verifier budget exhausted");
  if (auto r = collect_blobs(body, root->results(), blobs); !r) return r;
  return verify_blobs<wire::Result>(blobs, wire::ResultIdentifier(), left, check_result,
                                    [](const wire::Result& r) { return tables_in(r); });
}

template <typename Root, typename Check>
result<void> verify_simple(byte_span body, budget& left, const char* name, Check check) {
  const auto* root = verify_root<Root>(body, left);
  if (!root) return malformed(std::string(name) + " fails the verifier or its decoded-size cap");
  return check(*root);
}

}  // namespace

result<void> verify_body(message_kind kind, byte_span body, std::vector<byte_span>& blobs) {
  blobs.clear();
  if (body.size() < min_buffer_size) return malformed("body too small");
  if (reinterpret_cast<std::uintptr_t>(body.data()) % 8 != 0)
    return fail(error_code::invalid_argument, "body bytes must start 8-byte aligned in memory");
  budget left;
  left.decoded_bytes = max_decoded_factor * std::uint64_t{body.size()} + max_decoded_slack;
  switch (kind) {
    case message_kind::agent_hello:
      return verify_simple<wire::AgentHello>(body, left, "AgentHello", check_hello);
    case message_kind::work_request:
      return verify_simple<wire::WorkRequest>(body, left, "WorkRequest",
                                              [](const wire::WorkRequest&) { return result<void>(); });
    case message_kind::task_batch:
      return verify_task_batch(body, left, blobs);
    case message_kind::result_batch:
      return verify_result_batch(body, left, blobs);
    case message_kind::receipt:
      return verify_simple<wire::Receipt>(body, left, "Receipt", check_receipt);
    case message_kind::control:
      return verify_simple<wire::Control>(body, left, "Control", check_control);
    default:
      return fail(error_code::wrong_kind, "no body format for kind " + std::string(to_string(kind)));
  }
}

}  // namespace ec::protocol
