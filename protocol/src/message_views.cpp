// Views over verified bodies, and decode() into plain values. Inputs were verified, so pointers are in bounds and
// required fields present; optional fields may still be absent (null), which every accessor handles.
#include "ec/protocol/message_views.hpp"

#include "ec/protocol/digests.hpp"
#include "ec/protocol/sha256.hpp"

namespace ec::protocol {
namespace {

std::string_view sv(const flatbuffers::String* s) { return s ? std::string_view(s->c_str(), s->size()) : ""; }
std::string str(const flatbuffers::String* s) { return std::string(sv(s)); }

byte_span span_of(const flatbuffers::Vector<std::uint8_t>* v) {
  return v ? byte_span(v->data(), v->size()) : byte_span();
}
bytes bytes_of(const flatbuffers::Vector<std::uint8_t>* v) {
  auto s = span_of(v);
  return {s.begin(), s.end()};
}

template <typename T>
std::vector<T> scalars_of(const flatbuffers::Vector<T>* v) {
  std::vector<T> out;
  if (!v) return out;
  out.reserve(v->size());
  for (auto x : *v) out.push_back(x);  // element access converts from little-endian on any host
  return out;
}

std::vector<std::string> strings_of(const flatbuffers::Vector<flatbuffers::Offset<flatbuffers::String>>* v) {
  std::vector<std::string> out;
  if (!v) return out;
  for (const auto* s : *v) out.push_back(str(s));
  return out;
}

tensor tensor_of(const wire::Tensor& t) {
  return {str(t.name()), static_cast<dtype>(t.dtype()), scalars_of(t.shape()), bytes_of(t.data())};
}

std::vector<tensor> tensors_of(const flatbuffers::Vector<flatbuffers::Offset<wire::Tensor>>* v) {
  std::vector<tensor> out;
  if (!v) return out;
  for (const auto* t : *v) out.push_back(tensor_of(*t));
  return out;
}

device_info device_of(const wire::DeviceInfo& d) {
  device_info o;
  o.backend = str(d.backend());
  o.name = str(d.name());
  o.driver = str(d.driver());
  o.uuid = bytes_of(d.uuid());
  o.type = static_cast<device_type>(d.type());
  o.vendor_id = d.vendor_id();
  o.device_id = d.device_id();
  o.memory_bytes = d.memory_bytes();
  o.max_buffer_bytes = d.max_buffer_bytes();
  o.max_workgroup_size = d.max_workgroup_size();
  o.shared_memory_bytes = d.shared_memory_bytes();
  o.subgroup_size = d.subgroup_size();
  o.fp16 = d.fp16();
  o.fp64 = d.fp64();
  o.int8 = d.int8();
  o.resource_group = str(d.resource_group());
  o.kernels = strings_of(d.kernels());
  o.kernel_versions = scalars_of(d.kernel_versions());
  return o;
}

std::vector<bytes> blobs_of(const std::vector<byte_span>& blobs) {
  std::vector<bytes> out;
  out.reserve(blobs.size());
  for (auto b : blobs) out.emplace_back(b.begin(), b.end());
  return out;
}

}  // namespace

tensor_ref tensor_ref_of(const wire::Tensor& t) {
  return {sv(t.name()), static_cast<dtype>(t.dtype()), scalars_of(t.shape()), span_of(t.data())};
}

std::vector<tensor_ref> tensor_refs_of(const flatbuffers::Vector<flatbuffers::Offset<wire::Tensor>>* v) {
  std::vector<tensor_ref> out;
  if (!v) return out;
  out.reserve(v->size());
  for (const auto* t : *v) out.push_back(tensor_ref_of(*t));
  return out;
}

// --- AgentHello ---
agent_hello_view::agent_hello_view(byte_span body) : w_(flatbuffers::GetRoot<wire::AgentHello>(body.data())) {}
std::string_view agent_hello_view::agent_id() const { return sv(w_->agent_id()); }
byte_span agent_hello_view::public_key() const { return span_of(w_->public_key()); }
std::string_view agent_hello_view::enrollment_token() const { return sv(w_->enrollment_token()); }
agent_hello agent_hello_view::decode() const {
  agent_hello m;
  m.agent_id = str(w_->agent_id());
  m.public_key = bytes_of(w_->public_key());
  m.enrollment_token = str(w_->enrollment_token());
  m.session_seq = w_->session_seq();
  m.version = str(w_->version());
  m.os = str(w_->os());
  m.arch = str(w_->arch());
  m.abi = str(w_->abi());
  if (w_->devices())
    for (const auto* d : *w_->devices()) m.devices.push_back(device_of(*d));
  m.max_slots = w_->max_slots();
  m.online = w_->online();
  m.state = static_cast<agent_state>(w_->state());
  m.paused_reason = str(w_->paused_reason());
  m.last_control_seq = w_->last_control_seq();
  m.spool_bytes = w_->spool_bytes();
  m.sent_at_ms = w_->sent_at_ms();
  m.out_of_service = strings_of(w_->out_of_service());
  return m;
}

// --- WorkRequest ---
work_request_view::work_request_view(byte_span body) : w_(flatbuffers::GetRoot<wire::WorkRequest>(body.data())) {}
std::string_view work_request_view::agent_id() const { return sv(w_->agent_id()); }
std::string_view work_request_view::request_id() const { return sv(w_->request_id()); }
work_request work_request_view::decode() const {
  return {str(w_->agent_id()), str(w_->request_id()), w_->free_slots(), w_->max_tasks(), w_->max_batch_bytes(),
          w_->sent_at_ms()};
}

// --- Task ---
task_view::task_view(byte_span blob) : blob_(blob), w_(flatbuffers::GetRoot<wire::Task>(blob.data())) {}
sha256_digest task_view::digest() const { return task_digest(blob_); }
std::string_view task_view::task_id() const { return sv(w_->task_id()); }
std::string_view task_view::job_id() const { return sv(w_->job_id()); }
std::string_view task_view::agent_id() const { return sv(w_->agent_id()); }
std::string_view task_view::kernel() const { return sv(w_->kernel()); }
task task_view::decode() const {
  task m;
  m.task_id = str(w_->task_id());
  m.job_id = str(w_->job_id());
  m.attempt = w_->attempt();
  m.agent_id = str(w_->agent_id());
  m.kernel = str(w_->kernel());
  m.kernel_version = w_->kernel_version();
  if (const auto* c = w_->custom()) {
    m.custom = custom_kernel{bytes_of(c->spirv()),         str(c->opencl_c()),      str(c->entry()),
                             scalars_of(c->local_size()),  scalars_of(c->global_size()), bytes_of(c->code_key_id()),
                             bytes_of(c->code_signature())};
  }
  if (w_->params())
    for (const auto* p : *w_->params())
      m.params.push_back({str(p->name()), static_cast<dtype>(p->dtype()), p->i(), p->f()});
  m.inputs = tensors_of(w_->inputs());
  m.outputs = tensors_of(w_->outputs());
  m.validation = static_cast<validation_mode>(w_->validation());
  m.rtol = w_->rtol();
  m.atol = w_->atol();
  m.issued_at_ms = w_->issued_at_ms();
  m.expires_at_ms = w_->expires_at_ms();
  m.max_runtime_ms = w_->max_runtime_ms();
  m.min_memory_bytes = w_->min_memory_bytes();
  m.backend_hint = str(w_->backend_hint());
  return m;
}

std::vector<param> task_view::params() const {
  std::vector<param> out;
  if (w_->params())
    for (const auto* p : *w_->params()) out.push_back({str(p->name()), static_cast<dtype>(p->dtype()), p->i(), p->f()});
  return out;
}

std::string_view task_view::backend_hint() const { return sv(w_->backend_hint()); }

// --- TaskBatch ---
task_batch_view::task_batch_view(const opened_envelope& env)
    : w_(flatbuffers::GetRoot<wire::TaskBatch>(env.body.data())), blobs_(env.blobs) {}
std::string_view task_batch_view::agent_id() const { return sv(w_->agent_id()); }
std::string_view task_batch_view::in_reply_to() const { return sv(w_->in_reply_to()); }
task_batch task_batch_view::decode() const {
  return {str(w_->agent_id()), str(w_->in_reply_to()), blobs_of(blobs_), w_->retry_after_ms(), w_->sent_at_ms()};
}

// --- Result ---
result_view::result_view(byte_span blob) : blob_(blob), w_(flatbuffers::GetRoot<wire::Result>(blob.data())) {}
sha256_digest result_view::digest() const { return result_digest(blob_); }
std::string_view result_view::task_id() const { return sv(w_->task_id()); }
std::string_view result_view::agent_id() const { return sv(w_->agent_id()); }
byte_span result_view::task_digest() const { return span_of(w_->task_digest()); }
byte_span result_view::output_digest() const { return span_of(w_->output_digest()); }
task_result result_view::decode() const {
  task_result m;
  m.task_id = str(w_->task_id());
  m.job_id = str(w_->job_id());
  m.attempt = w_->attempt();
  m.agent_id = str(w_->agent_id());
  m.task_digest = bytes_of(w_->task_digest());
  m.status = static_cast<result_status>(w_->status());
  m.error = str(w_->error());
  m.outputs = tensors_of(w_->outputs());
  m.output_digest = bytes_of(w_->output_digest());
  if (w_->device()) m.device = device_of(*w_->device());
  if (const auto* t = w_->timings())
    m.timing = timings{t->queued_us(), t->compile_us(), t->upload_us(), t->exec_us(), t->download_us(), t->total_us()};
  m.finished_at_ms = w_->finished_at_ms();
  if (const auto e = w_->energy_uj(); e.has_value()) m.energy_uj = *e;
  return m;
}

// --- ResultBatch ---
result_batch_view::result_batch_view(const opened_envelope& env)
    : w_(flatbuffers::GetRoot<wire::ResultBatch>(env.body.data())), blobs_(env.blobs) {}
std::string_view result_batch_view::agent_id() const { return sv(w_->agent_id()); }
result_batch result_batch_view::decode() const { return {str(w_->agent_id()), blobs_of(blobs_), w_->sent_at_ms()}; }

// --- Receipt ---
receipt_view::receipt_view(byte_span body) : w_(flatbuffers::GetRoot<wire::Receipt>(body.data())) {}
std::string_view receipt_view::agent_id() const { return sv(w_->agent_id()); }
receipt receipt_view::decode() const {
  receipt m;
  m.agent_id = str(w_->agent_id());
  if (w_->entries())
    for (const auto* e : *w_->entries())
      m.entries.push_back({str(e->task_id()), e->attempt(), bytes_of(e->result_digest()), e->accepted(),
                           str(e->reason())});
  m.sent_at_ms = w_->sent_at_ms();
  return m;
}

// --- Control ---
control_view::control_view(byte_span body) : w_(flatbuffers::GetRoot<wire::Control>(body.data())) {}
std::string_view control_view::agent_id() const { return sv(w_->agent_id()); }
control control_view::decode() const {
  return {str(w_->agent_id()), w_->seq(), static_cast<agent_state>(w_->desired_state()),
          strings_of(w_->cancel_task_ids()), w_->max_slots(), w_->sent_at_ms()};
}

}  // namespace ec::protocol
