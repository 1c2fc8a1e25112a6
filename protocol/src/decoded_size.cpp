// Per-reference size accounting behind the decode-amplification cap of check 5 (see decoded_size.hpp).
#include "decoded_size.hpp"

namespace ec::protocol::detail {
namespace {

// A std::string or std::vector costs its bytes plus its own header; counting the header stops a vector of
// a million offsets to one empty string from passing as "small".
constexpr std::uint64_t container_overhead = 32;

std::uint64_t of(const flatbuffers::String* s) { return s ? container_overhead + s->size() : 0; }

template <typename T>
std::uint64_t of(const flatbuffers::Vector<T>* v) {
  return v ? container_overhead + std::uint64_t{v->size()} * sizeof(T) : 0;
}

std::uint64_t of(const flatbuffers::Vector<flatbuffers::Offset<flatbuffers::String>>* v) {
  if (!v) return 0;
  std::uint64_t n = container_overhead;
  for (const auto* s : *v) n += of(s);
  return n;
}

std::uint64_t decoded_size(const wire::Tensor& t) { return of(t.name()) + of(t.shape()) + of(t.data()); }
std::uint64_t decoded_size(const wire::Param& p) { return of(p.name()); }

std::uint64_t decoded_size(const wire::DeviceInfo& d) {
  return of(d.backend()) + of(d.name()) + of(d.driver()) + of(d.uuid()) + of(d.resource_group()) +
         of(d.kernels()) + of(d.kernel_versions());
}

std::uint64_t decoded_size(const wire::CustomKernel& c) {
  return of(c.spirv()) + of(c.opencl_c()) + of(c.entry()) + of(c.local_size()) + of(c.global_size()) +
         of(c.code_key_id()) + of(c.code_signature());
}

std::uint64_t decoded_size(const wire::ReceiptEntry& e) { return of(e.task_id()) + of(e.result_digest()) + of(e.reason()); }

template <typename T>
std::uint64_t of_tables(const flatbuffers::Vector<flatbuffers::Offset<T>>* v) {
  if (!v) return 0;
  std::uint64_t n = container_overhead;
  for (const auto* t : *v) n += decoded_size(*t);
  return n;
}

}  // namespace

std::uint64_t decoded_size(const wire::Task& t) {
  return of(t.task_id()) + of(t.job_id()) + of(t.agent_id()) + of(t.kernel()) + of(t.backend_hint()) +
         (t.custom() ? decoded_size(*t.custom()) : 0) + of_tables(t.params()) + of_tables(t.inputs()) +
         of_tables(t.outputs());
}

std::uint64_t decoded_size(const wire::Result& r) {
  return of(r.task_id()) + of(r.job_id()) + of(r.agent_id()) + of(r.task_digest()) + of(r.error()) +
         of_tables(r.outputs()) + of(r.output_digest()) + (r.device() ? decoded_size(*r.device()) : 0);
}

std::uint64_t decoded_size(const wire::AgentHello& h) {
  return of(h.agent_id()) + of(h.public_key()) + of(h.enrollment_token()) + of(h.version()) + of(h.os()) +
         of(h.arch()) + of(h.abi()) + of_tables(h.devices()) + of(h.paused_reason()) + of(h.out_of_service());
}

std::uint64_t decoded_size(const wire::WorkRequest& w) { return of(w.agent_id()) + of(w.request_id()); }

std::uint64_t decoded_size(const wire::Receipt& r) { return of(r.agent_id()) + of_tables(r.entries()); }

std::uint64_t decoded_size(const wire::Control& c) { return of(c.agent_id()) + of(c.cancel_task_ids()); }

// Blobs are charged when they are verified on their own; here only the batch's own fields.
std::uint64_t decoded_size(const wire::TaskBatch& b) {
  return of(b.agent_id()) + of(b.in_reply_to()) + container_overhead * (b.tasks() ? b.tasks()->size() : 0);
}

std::uint64_t decoded_size(const wire::ResultBatch& b) {
  return of(b.agent_id()) + container_overhead * (b.results() ? b.results()->size() : 0);
}

}  // namespace ec::protocol::detail
