// The signature over custom kernel code (protocol.md, "Custom kernels"): kind byte 0x10, the code key's key_id,
// an empty prefix (code is not tied to a region), body SHA-256(spirv) || SHA-256(opencl_c) || entry.
#pragma once

#include <string_view>

#include "ec/protocol/bytes.hpp"
#include "ec/protocol/error.hpp"
#include "ec/protocol/signer.hpp"
#include "ec/protocol/trust_store.hpp"

namespace ec::protocol {

/// The code a code key signs: what a Task's CustomKernel carries, viewed without copying.
struct code_to_sign {
  byte_span spirv;
  std::string_view opencl_c;
  std::string_view entry;
};

/// The digest a code signature covers (the signing input of protocol.md with kind 0x10 and an empty prefix).
sha256_digest code_signing_digest(const code_to_sign& code, const key_id& signer);

/// Signs custom kernel code with a code key (operators' tools and tests; agents only verify).
result<raw_signature> sign_code(const code_to_sign& code, const signer& code_key);

/// Checks a code signature: `signer_id` must be trusted for message_kind::code and the signature must verify.
result<void> verify_code(const code_to_sign& code, byte_span signer_id, byte_span signature, const trust_store& trust);

}  // namespace ec::protocol
