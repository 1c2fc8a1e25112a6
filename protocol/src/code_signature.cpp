// Code signatures reuse the envelope's signing input so one verifier implementation covers both; the body is a
// fixed-size summary (two digests and the entry name), so a signature never needs the code itself to be copied.
#include "ec/protocol/code_signature.hpp"

#include <algorithm>

#include "ec/protocol/sha256.hpp"
#include "ec/protocol/signing_input.hpp"

namespace ec::protocol {
namespace {

bytes code_body(const code_to_sign& code) {
  const auto spirv_digest = sha256_of(code.spirv);
  const auto opencl_digest = sha256_of(as_bytes(code.opencl_c));
  bytes body;
  body.reserve(64 + code.entry.size());
  body.insert(body.end(), spirv_digest.begin(), spirv_digest.end());
  body.insert(body.end(), opencl_digest.begin(), opencl_digest.end());
  const auto entry = as_bytes(code.entry);
  body.insert(body.end(), entry.begin(), entry.end());
  return body;
}

}  // namespace

sha256_digest code_signing_digest(const code_to_sign& code, const key_id& signer) {
  // An empty prefix never exceeds the prefix limit, so the result always holds a value.
  return signing_digest(message_kind::code, signer, {}, code_body(code)).value();
}

result<raw_signature> sign_code(const code_to_sign& code, const signer& code_key) {
  return code_key.sign_digest(code_signing_digest(code, code_key.key().id()));
}

result<void> verify_code(const code_to_sign& code, byte_span signer_id, byte_span signature, const trust_store& trust) {
  if (signer_id.size() != 32 || signature.size() != 64)
    return fail(error_code::bad_signature, "code signature needs a 32-byte key id and a 64-byte signature");
  key_id id{};
  std::copy(signer_id.begin(), signer_id.end(), id.begin());
  const auto* checker = trust.find(id, message_kind::code);
  if (!checker)
    return fail(error_code::untrusted_key,
                "code is signed by key " + to_hex(signer_id).substr(0, 16) + "..., which is not in trust.code_keys");
  raw_signature sig{};
  std::copy(signature.begin(), signature.end(), sig.begin());
  if (auto r = checker->verify_digest(code_signing_digest(code, id), sig); !r)
    return fail(error_code::bad_signature, "code signature does not verify: " + r.err().message);
  return {};
}

}  // namespace ec::protocol
