// Host signatures are untrusted input in the sense that a host bug must not become a bad envelope: they are parsed
// strictly, normalised to low-s (the protocol rejects high-s; Keystore does not normalise) and verified.
#include "host_signer.hpp"

#include <algorithm>
#include <string_view>

#include "ec/protocol/mbedtls_signer.hpp"

namespace ec::agent::c_api {
namespace {

constexpr std::size_t max_signature_bytes = 80;  // DER of two 33-byte integers is at most 72

// One DER INTEGER at `at` into a 32-byte big-endian slot; advances `at`.
bool read_der_integer(protocol::byte_span der, std::size_t& at, std::span<std::uint8_t, 32> out) {
  if (at + 2 > der.size() || der[at] != 0x02) return false;
  std::size_t len = der[at + 1];
  at += 2;
  if (len == 0 || len > 33 || at + len > der.size()) return false;
  auto value = der.subspan(at, len);
  at += len;
  if (value[0] & 0x80) return false;  // negative
  while (!value.empty() && value[0] == 0) value = value.subspan(1);
  if (value.size() > 32) return false;
  std::fill(out.begin(), out.end(), std::uint8_t{0});
  std::copy(value.begin(), value.end(), out.begin() + static_cast<std::ptrdiff_t>(32 - value.size()));
  return true;
}

}  // namespace

result<protocol::raw_signature> parse_host_signature(protocol::byte_span sig) {
  protocol::raw_signature raw{};
  if (sig.size() == raw.size()) {
    std::copy(sig.begin(), sig.end(), raw.begin());
    return raw;
  }
  // SEQUENCE { INTEGER r, INTEGER s } with short-form lengths (the whole value is under 128 bytes).
  if (sig.size() < 8 || sig[0] != 0x30 || sig[1] != sig.size() - 2)
    return fail(error_code::bad_signature, "host signature is neither 64-byte r||s nor a DER ECDSA-Sig-Value");
  std::size_t at = 2;
  if (!read_der_integer(sig, at, std::span<std::uint8_t, 32>(raw.data(), 32)) ||
      !read_der_integer(sig, at, std::span<std::uint8_t, 32>(raw.data() + 32, 32)) || at != sig.size())
    return fail(error_code::bad_signature, "host signature: malformed DER ECDSA-Sig-Value");
  return raw;
}

host_signer::host_signer(protocol::public_key key, edge_agent_sign_fn fn, void* user)
    : key_(std::move(key)), verifier_(protocol::mbedtls_verifier_factory()(key_)), fn_(fn), user_(user) {}

result<std::shared_ptr<host_signer>> host_signer::from(const edge_agent_signer& host) {
  if (!host.sign || !host.public_key || host.public_key_len == 0)
    return fail(error_code::invalid_argument, "signer: public_key and sign are required");
  const std::string_view text(reinterpret_cast<const char*>(host.public_key), host.public_key_len);
  auto key = text.starts_with("-----BEGIN") ? protocol::public_key::from_pem(text)
                                            : protocol::public_key::from_spki_der(
                                                  protocol::byte_span(host.public_key, host.public_key_len), false);
  if (!key) return error{key.err().code, "signer: public key: " + key.err().message};
  return std::shared_ptr<host_signer>(new host_signer(std::move(*key), host.sign, host.user));
}

result<protocol::raw_signature> host_signer::sign_digest(const protocol::sha256_digest& digest) const {
  std::uint8_t out[max_signature_bytes] = {};
  std::size_t length = 0;
  if (fn_(user_, digest.data(), out, sizeof out, &length) != 0)
    return fail(error_code::crypto_error, "the host's sign function failed");
  if (length > sizeof out) return fail(error_code::crypto_error, "the host's sign function overran its buffer");
  auto raw = parse_host_signature(protocol::byte_span(out, length));
  if (!raw) return raw.err();
  protocol::normalize_low_s(*raw);
  if (auto ok = verifier_->verify_digest(digest, *raw); !ok)
    return fail(error_code::bad_signature, "the host's signature does not verify against its public key");
  return *raw;
}

}  // namespace ec::agent::c_api
