// Zero-copy readers over verified message bodies. Construct them only from bytes that passed verify_body()
// (open() does it); decode() copies a view into the plain value of messages.hpp.
#pragma once

#include <vector>

#include "ec/protocol/envelope.hpp"
#include "ec/protocol/messages.hpp"
#include "ec/wire/agent_hello_generated.h"
#include "ec/wire/control_generated.h"
#include "ec/wire/receipt_generated.h"
#include "ec/wire/result_batch_generated.h"
#include "ec/wire/task_batch_generated.h"
#include "ec/wire/work_request_generated.h"

namespace ec::protocol {

/// Reads a verified Tensor table.
tensor_ref tensor_ref_of(const wire::Tensor& t);
/// Reads a vector of verified Tensor tables (empty for null).
std::vector<tensor_ref> tensor_refs_of(const flatbuffers::Vector<flatbuffers::Offset<wire::Tensor>>* v);

class agent_hello_view {
public:
  explicit agent_hello_view(byte_span verified_body);
  [[nodiscard]] std::string_view agent_id() const;
  [[nodiscard]] byte_span public_key() const;
  [[nodiscard]] std::string_view enrollment_token() const;
  [[nodiscard]] std::uint64_t session_seq() const { return w_->session_seq(); }
  [[nodiscard]] bool online() const { return w_->online(); }
  [[nodiscard]] agent_state state() const { return static_cast<agent_state>(w_->state()); }
  [[nodiscard]] const wire::AgentHello& wire() const { return *w_; }
  [[nodiscard]] agent_hello decode() const;

private:
  const wire::AgentHello* w_;
};

class work_request_view {
public:
  explicit work_request_view(byte_span verified_body);
  [[nodiscard]] std::string_view agent_id() const;
  [[nodiscard]] std::string_view request_id() const;
  [[nodiscard]] std::uint32_t free_slots() const { return w_->free_slots(); }
  [[nodiscard]] std::uint32_t max_tasks() const { return w_->max_tasks(); }
  [[nodiscard]] std::uint32_t max_batch_bytes() const { return w_->max_batch_bytes(); }
  [[nodiscard]] std::uint64_t sent_at_ms() const { return w_->sent_at_ms(); }
  [[nodiscard]] const wire::WorkRequest& wire() const { return *w_; }
  [[nodiscard]] work_request decode() const;

private:
  const wire::WorkRequest* w_;
};

class task_view {
public:
  /// A verified Task blob (with its ECT1 identifier), e.g. one of opened_envelope::blobs.
  explicit task_view(byte_span verified_blob);
  [[nodiscard]] byte_span blob() const { return blob_; }
  [[nodiscard]] sha256_digest digest() const;  // task_digest
  [[nodiscard]] std::string_view task_id() const;
  [[nodiscard]] std::string_view job_id() const;
  [[nodiscard]] std::uint32_t attempt() const { return w_->attempt(); }
  [[nodiscard]] std::string_view agent_id() const;
  [[nodiscard]] std::string_view kernel() const;
  [[nodiscard]] std::uint32_t kernel_version() const { return w_->kernel_version(); }
  [[nodiscard]] bool is_custom() const { return w_->custom() != nullptr; }
  /// The params, copied (names are short; kernels read them by name).
  [[nodiscard]] std::vector<param> params() const;
  [[nodiscard]] std::uint64_t min_memory_bytes() const { return w_->min_memory_bytes(); }
  [[nodiscard]] std::string_view backend_hint() const;
  [[nodiscard]] std::vector<tensor_ref> inputs() const { return tensor_refs_of(w_->inputs()); }
  [[nodiscard]] std::vector<tensor_ref> outputs() const { return tensor_refs_of(w_->outputs()); }
  [[nodiscard]] validation_mode validation() const { return static_cast<validation_mode>(w_->validation()); }
  [[nodiscard]] std::uint64_t issued_at_ms() const { return w_->issued_at_ms(); }
  [[nodiscard]] std::uint64_t expires_at_ms() const { return w_->expires_at_ms(); }
  [[nodiscard]] std::uint32_t max_runtime_ms() const { return w_->max_runtime_ms(); }
  [[nodiscard]] const wire::Task& wire() const { return *w_; }
  [[nodiscard]] task decode() const;

private:
  byte_span blob_;
  const wire::Task* w_;
};

class task_batch_view {
public:
  /// From an opened TaskBatch envelope (its body and verified blobs).
  explicit task_batch_view(const opened_envelope& env);
  [[nodiscard]] std::string_view agent_id() const;
  [[nodiscard]] std::string_view in_reply_to() const;
  [[nodiscard]] std::uint32_t retry_after_ms() const { return w_->retry_after_ms(); }
  [[nodiscard]] std::uint64_t sent_at_ms() const { return w_->sent_at_ms(); }
  [[nodiscard]] std::size_t size() const { return blobs_.size(); }
  [[nodiscard]] task_view task(std::size_t i) const { return task_view(blobs_.at(i)); }
  [[nodiscard]] const wire::TaskBatch& wire() const { return *w_; }
  [[nodiscard]] task_batch decode() const;

private:
  const wire::TaskBatch* w_;
  std::vector<byte_span> blobs_;
};

class result_view {
public:
  /// A verified Result blob (with its ECR1 identifier).
  explicit result_view(byte_span verified_blob);
  [[nodiscard]] byte_span blob() const { return blob_; }
  [[nodiscard]] sha256_digest digest() const;  // result_digest
  [[nodiscard]] std::string_view task_id() const;
  [[nodiscard]] std::uint32_t attempt() const { return w_->attempt(); }
  [[nodiscard]] std::string_view agent_id() const;
  [[nodiscard]] byte_span task_digest() const;
  [[nodiscard]] result_status status() const { return static_cast<result_status>(w_->status()); }
  [[nodiscard]] std::vector<tensor_ref> outputs() const { return tensor_refs_of(w_->outputs()); }
  [[nodiscard]] byte_span output_digest() const;
  [[nodiscard]] const wire::Result& wire() const { return *w_; }
  [[nodiscard]] task_result decode() const;

private:
  byte_span blob_;
  const wire::Result* w_;
};

class result_batch_view {
public:
  /// From an opened ResultBatch envelope.
  explicit result_batch_view(const opened_envelope& env);
  [[nodiscard]] std::string_view agent_id() const;
  [[nodiscard]] std::uint64_t sent_at_ms() const { return w_->sent_at_ms(); }
  [[nodiscard]] std::size_t size() const { return blobs_.size(); }
  [[nodiscard]] result_view result(std::size_t i) const { return result_view(blobs_.at(i)); }
  [[nodiscard]] const wire::ResultBatch& wire() const { return *w_; }
  [[nodiscard]] result_batch decode() const;

private:
  const wire::ResultBatch* w_;
  std::vector<byte_span> blobs_;
};

class receipt_view {
public:
  explicit receipt_view(byte_span verified_body);
  [[nodiscard]] std::string_view agent_id() const;
  [[nodiscard]] std::uint64_t sent_at_ms() const { return w_->sent_at_ms(); }
  [[nodiscard]] const wire::Receipt& wire() const { return *w_; }
  [[nodiscard]] receipt decode() const;

private:
  const wire::Receipt* w_;
};

class control_view {
public:
  explicit control_view(byte_span verified_body);
  [[nodiscard]] std::string_view agent_id() const;
  [[nodiscard]] std::uint64_t seq() const { return w_->seq(); }
  [[nodiscard]] agent_state desired_state() const { return static_cast<agent_state>(w_->desired_state()); }
  [[nodiscard]] const wire::Control& wire() const { return *w_; }
  [[nodiscard]] control decode() const;

private:
  const wire::Control* w_;
};

}  // namespace ec::protocol
