// seal() and open(): the signed envelope, and receiver checks 1-6 of protocol.md in their normative order.
#include "ec/protocol/envelope.hpp"

#include <algorithm>

#include "ec/protocol/keys.hpp"
#include "ec/protocol/message_views.hpp"
#include "ec/protocol/signing_input.hpp"
#include "ec/wire/envelope_generated.h"

namespace ec::protocol {
namespace {

const wire::SignedEnvelope* verify_envelope(byte_span wire) {
  flatbuffers::Verifier::Options o;
  o.max_depth = envelope_max_depth;
  o.max_tables = envelope_max_tables;
  o.check_nested_flatbuffers = false;
  flatbuffers::Verifier v(wire.data(), wire.size(), o);
  if (!v.VerifyBuffer<wire::SignedEnvelope>(wire::SignedEnvelopeIdentifier())) return nullptr;
  return flatbuffers::GetRoot<wire::SignedEnvelope>(wire.data());
}

raw_signature signature_of(const wire::SignedEnvelope& env) {
  raw_signature sig{};
  std::copy(env.signature()->begin(), env.signature()->end(), sig.begin());
  return sig;
}

#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
result<void> verify_with(const verifier& v, message_kind kind, const key_id& id, std::string_view prefix,
                         byte_span body, const raw_signature& sig) {
  auto digest = signing_digest(kind, id, prefix, body);
  if (!digest) return digest.err();
  return v.verify_digest(*digest, sig);
}
#endif

// Check 4 for an AgentHello: the body carries the key, which must hash to the envelope's key_id.
result<void> verify_hello_signature(const opened_envelope& out, const open_options& opt, const raw_signature& sig) {
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  (void)out, (void)opt, (void)sig;
  return {};  // fuzzers must reach the readers behind the signature; this build is never shipped
#else
  agent_hello_view hello(out.body);
  auto key = public_key::from_spki_der(hello.public_key(), /*require_canonical=*/true);
  if (!key) return fail(error_code::bad_key_id, "hello public key: " + key.err().message);
  if (key->id() != out.signer) return fail(error_code::bad_key_id, "hello public key does not hash to key_id");
  auto v = opt.trust->make_verifier(*key);
  if (!v) return fail(error_code::crypto_error, "no verifier for the hello's key");
  return verify_with(*v, out.kind, out.signer, opt.prefix, out.body, sig);
#endif
}

result<void> verify_trusted_signature(const opened_envelope& out, const open_options& opt, const raw_signature& sig) {
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  (void)out, (void)opt, (void)sig;
  return {};
#else
  const verifier* v = opt.trust->find(out.signer, out.kind);
  if (!v) return fail(error_code::untrusted_key, "key " + out.signer_agent_id + " is not trusted for " +
                                                    std::string(to_string(out.kind)));
  return verify_with(*v, out.kind, out.signer, opt.prefix, out.body, sig);
#endif
}

std::string_view body_agent_id(const opened_envelope& env) {
  switch (env.kind) {
    case message_kind::agent_hello: return agent_hello_view(env.body).agent_id();
    case message_kind::work_request: return work_request_view(env.body).agent_id();
    case message_kind::task_batch: return task_batch_view(env).agent_id();
    case message_kind::result_batch: return result_batch_view(env).agent_id();
    case message_kind::receipt: return receipt_view(env.body).agent_id();
    case message_kind::control: return control_view(env.body).agent_id();
    default: return {};
  }
}

// Check 6. Agent side: the body names the agent of the topic. Aggregator side: the body (and every Result in
// a batch) names the signer, so one agent cannot speak for another.
result<void> check_addressing(const opened_envelope& env, const open_options& opt) {
  const std::string_view named = body_agent_id(env);
  const std::string_view expected = is_agent_bound(env.kind) ? opt.topic_agent_id : env.signer_agent_id;
  if (named != expected)
    return fail(error_code::misaddressed, "body names agent '" + std::string(named) + "', expected '" +
                                              std::string(expected) + "'");
  if (env.kind == message_kind::result_batch) {
    for (auto blob : env.blobs)
      if (result_view(blob).agent_id() != expected)
        return fail(error_code::misaddressed, "a result names another agent than its signer");
  }
  return {};
}

}  // namespace

result<bytes> seal(message_kind kind, byte_span body, std::string_view prefix, const signer& signer) {
  if (!is_envelope_kind(kind)) return fail(error_code::invalid_argument, "cannot seal kind " + std::string(to_string(kind)));
  const key_id& id = signer.key().id();
  auto digest = signing_digest(kind, id, prefix, body);
  if (!digest) return digest.err();
  auto sig = signer.sign_digest(*digest);
  if (!sig) return sig.err();
  flatbuffers::FlatBufferBuilder b(body.size() + 256);
  b.ForceVectorAlignment(body.size(), 1, 8);  // the body is a buffer of its own: keep its scalars aligned
  auto body_vec = b.CreateVector(body.data(), body.size());
  auto key_vec = b.CreateVector(id.data(), id.size());
  auto sig_vec = b.CreateVector(sig->data(), sig->size());
  b.Finish(wire::CreateSignedEnvelope(b, static_cast<wire::MessageKind>(kind), body_vec, key_vec, sig_vec),
           wire::SignedEnvelopeIdentifier());
  return bytes(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
}

result<opened_envelope> open(byte_span wire, const open_options& opt) {
  if (!opt.trust) return fail(error_code::invalid_argument, "open() needs a trust store");
  // 1. Size, before anything reads the bytes.
  const std::size_t cap = std::min<std::size_t>(opt.max_payload, FLATBUFFERS_MAX_BUFFER_SIZE - 1);
  if (wire.size() > cap)
    return fail(error_code::too_large, std::to_string(wire.size()) + " bytes exceed the cap of " + std::to_string(cap));
  // 2. The envelope table.
  if (wire.size() < min_buffer_size) return fail(error_code::malformed, "payload too small");
  if (reinterpret_cast<std::uintptr_t>(wire.data()) % 8 != 0)
    return fail(error_code::invalid_argument, "payload must start 8-byte aligned in memory (copy it first)");
  const auto* env = verify_envelope(wire);
  if (!env) return fail(error_code::malformed, "not a SignedEnvelope (verifier or identifier ECW1 failed)");
  if ((env->body()->data() - wire.data()) % 8 != 0) return fail(error_code::malformed, "body is not 8-byte aligned");
  // 3. Kind and field sizes.
  const auto kind = static_cast<message_kind>(env->kind());
  if (kind != opt.expected_kind)
    return fail(error_code::wrong_kind, "got " + std::string(to_string(kind)) + ", expected " +
                                            std::string(to_string(opt.expected_kind)));
  if (env->key_id()->size() != key_id_size) return fail(error_code::bad_key_id, "key_id must be 32 bytes");
  if (env->signature()->size() != signature_size) return fail(error_code::bad_signature, "signature must be 64 bytes");

  opened_envelope out;
  out.kind = kind;
  std::copy(env->key_id()->begin(), env->key_id()->end(), out.signer.begin());
  out.signer_agent_id = agent_id_of(out.signer);
  out.body = byte_span(env->body()->data(), env->body()->size());
  const raw_signature sig = signature_of(*env);

  // 4 and 5. A hello's body is verified first because it carries the key; every other body only once trusted.
  if (kind == message_kind::agent_hello) {
    if (auto r = verify_body(kind, out.body, out.blobs); !r) return r.err();
    if (auto r = verify_hello_signature(out, opt, sig); !r) return r.err();
  } else {
    if (auto r = verify_trusted_signature(out, opt, sig); !r) return r.err();
    if (auto r = verify_body(kind, out.body, out.blobs); !r) return r.err();
  }
  // 6. Addressing.
  if (auto r = check_addressing(out, opt); !r) return r.err();
  return out;
}

}  // namespace ec::protocol
