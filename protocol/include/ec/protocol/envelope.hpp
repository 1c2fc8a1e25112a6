// seal() and open() of signed envelopes: receiver checks 1-6 of protocol.md, in order.
#pragma once

#include <optional>
#include <vector>

#include "ec/protocol/bytes.hpp"
#include "ec/protocol/error.hpp"
#include "ec/protocol/limits.hpp"
#include "ec/protocol/message_kind.hpp"
#include "ec/protocol/signer.hpp"
#include "ec/protocol/trust_store.hpp"

namespace ec::protocol {

/// Signs `body` as a message of `kind` for region prefix `prefix` and wraps it in a SignedEnvelope.
result<bytes> seal(message_kind kind, byte_span body, std::string_view prefix, const signer& signer);

/// What the receiver knows before opening: the kind expected on the topic, the region, whom to trust.
struct open_options {
  message_kind expected_kind = message_kind::invalid;
  std::string_view prefix;
  const trust_store* trust = nullptr;
  /// Agent-bound kinds (TaskBatch, Receipt, Control): the agent_id in the topic; "" for P/control.
  std::string_view topic_agent_id;
  std::size_t max_payload = default_max_payload;
};

/// A message that passed checks 1-6. Spans point into the caller's bytes, which must outlive it.
struct opened_envelope {
  message_kind kind = message_kind::invalid;
  key_id signer{};               // the verified signer's key_id
  std::string signer_agent_id;   // agent_id_of(signer)
  byte_span body;                // the body as it was on the wire (verified root table)
  std::vector<byte_span> blobs;  // TaskBatch / ResultBatch: each verified Task / Result blob, in order
};

/// Opens a SignedEnvelope: size, envelope verifier, kind, signature (hellos certify their own key), body
/// verifier with one budget for body and blobs, enums, tensor sizes, and addressing.
result<opened_envelope> open(byte_span wire, const open_options& options);

/// Verifies a body of `kind` on its own (check 5): the FlatBuffers verifier with one shared budget for the body
/// and its nested blobs, at most 256 non-overlapping blobs, enum ranges, tensor sizes. Fills `blobs`.
result<void> verify_body(message_kind kind, byte_span body, std::vector<byte_span>& blobs);

}  // namespace ec::protocol
