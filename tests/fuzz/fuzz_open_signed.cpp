// libFuzzer target over the real library (signatures checked with Mbed TLS): receiver checks 1-4 with real crypto.
// Each input is used twice:
//  (a) as a wire payload, opened as every kind against a trust store holding one key: whatever opens must be
//      signed by that key (or, for a hello, by the key the hello carries);
//  (b) its first byte picks a kind and the rest is a body, sealed with the trusted key and opened: a trusted
//      signature must never be refused, and the same envelope with one body or signature byte flipped must be.
#include "ec/wire/envelope_generated.h"
#include "fuzz_support.hpp"

namespace {

namespace p = ec::protocol;
namespace fuzz = ec::fuzz;
using p::message_kind;

const p::mbedtls_signer& trusted_signer() {
  static const p::mbedtls_signer signer = [] {
    auto key = p::private_key::generate();
    EC_FUZZ_CHECK(key.ok());
    return p::mbedtls_signer(std::move(key).value());
  }();
  return signer;
}

// The key is trusted for every kind that is not self-certifying, so (b) can reach every body behind a signature.
const p::static_trust_store& trusted_store() {
  static const auto store = [] {
    auto s = std::make_unique<p::static_trust_store>(p::mbedtls_verifier_factory());
    s->trust(trusted_signer().key(), {message_kind::work_request, message_kind::task_batch, message_kind::result_batch,
                                      message_kind::receipt, message_kind::control});
    return s;
  }();
  return *store;
}

p::open_options options_for(message_kind kind) {
  p::open_options o;
  o.expected_kind = kind;
  o.prefix = fuzz::prefix;
  o.trust = &trusted_store();
  o.topic_agent_id = fuzz::topic_agent_id;
  return o;
}

void check_signer(const p::opened_envelope& env) {
  if (env.kind != message_kind::agent_hello) {
    EC_FUZZ_CHECK(env.signer == trusted_signer().key().id());
    return;
  }
  auto key = p::public_key::from_spki_der(p::agent_hello_view(env.body).public_key(), /*require_canonical=*/true);
  EC_FUZZ_CHECK(key.ok() && key->id() == env.signer);
}

// (a) Arbitrary wire bytes: only the matching kind gets past check 3; hellos go through real verification.
void open_as_every_kind(p::byte_span wire) {
  for (auto k = 1; k <= 6; ++k) {
    const auto kind = static_cast<message_kind>(k);
    auto opened = p::open(wire, options_for(kind));
    if (!opened) continue;
    EC_FUZZ_CHECK(opened->kind == kind);
    check_signer(*opened);
    fuzz::walk(*opened);
  }
}

// (b) A body sealed by the trusted key, then the same envelope with one byte of the body or signature flipped.
void seal_and_open(std::uint8_t selector, p::byte_span body) {
  const auto kind = static_cast<message_kind>(1 + selector % 6);
  auto sealed = p::seal(kind, body, fuzz::prefix, trusted_signer());
  EC_FUZZ_CHECK(sealed.ok());
  auto opened = p::open(*sealed, options_for(kind));
  if (kind == message_kind::agent_hello) {  // a fuzzed hello cannot carry the signer's key: it must be refused
    EC_FUZZ_CHECK(!opened.ok());
    return;
  }
  if (!opened) {
    // Checks 1-4 passed (a fresh trusted signature); only the body or its addressing may be refused.
    const auto c = opened.code();
    EC_FUZZ_CHECK(c != ec::error_code::bad_signature && c != ec::error_code::untrusted_key &&
                  c != ec::error_code::bad_key_id && c != ec::error_code::wrong_kind);
    return;
  }
  check_signer(*opened);
  fuzz::walk(*opened);

  p::bytes tampered = *sealed;
  const auto* env = flatbuffers::GetRoot<ec::wire::SignedEnvelope>(tampered.data());
  const std::size_t pick = selector / 6u;
  std::size_t at = 0;
  if (pick % 2 == 0) {
    at = static_cast<std::size_t>(env->signature()->data() - tampered.data()) + pick % p::signature_size;
  } else {
    at = static_cast<std::size_t>(env->body()->data() - tampered.data()) + pick % env->body()->size();
  }
  tampered[at] ^= 0x01;
  auto refused = p::open(tampered, options_for(kind));
  EC_FUZZ_CHECK(refused.code() == ec::error_code::bad_signature);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const p::byte_span input(data, size);
  open_as_every_kind(input);
  if (!input.empty()) seal_and_open(input[0], input.subspan(1));
  return 0;
}
