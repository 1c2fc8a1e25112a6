// The signer/verifier interface: implementations sign and verify 32-byte SHA-256 digests as raw r||s.
#pragma once

#include <functional>
#include <memory>

#include "ec/protocol/bytes.hpp"
#include "ec/protocol/error.hpp"
#include "ec/protocol/keys.hpp"

namespace ec::protocol {

/// Signs digests with one key. A host (a phone keystore) may implement it without exposing the key.
class signer {
public:
  virtual ~signer() = default;
  /// The signing key's public half (its id is the envelope's key_id).
  [[nodiscard]] virtual const public_key& key() const = 0;
  /// ECDSA P-256 over a SHA-256 digest; returns r||s with s normalised to the low half.
  [[nodiscard]] virtual result<raw_signature> sign_digest(const sha256_digest& digest) const = 0;
};

/// Verifies signatures made by one public key.
class verifier {
public:
  virtual ~verifier() = default;
  /// The public key this verifier checks against.
  [[nodiscard]] virtual const public_key& key() const = 0;
  /// Checks r||s over a digest; a high-s signature is rejected (error_code::bad_signature).
  [[nodiscard]] virtual result<void> verify_digest(const sha256_digest& digest, const raw_signature& sig) const = 0;
};

/// Makes a verifier for a public key (the implementation a process chose: Mbed TLS or OpenSSL).
using verifier_factory = std::function<std::unique_ptr<verifier>(const public_key&)>;

/// True when s (big-endian, 32 bytes) is in [1, n/2] for P-256's order n.
bool is_low_s(std::span<const std::uint8_t, 32> s);

/// Replaces s by n - s when s is in the high half (turns any valid signature into its low-s twin).
void normalize_low_s(raw_signature& sig);

/// The high-s twin (r, n - s) of a signature: verifies mathematically, must be rejected by our verifiers.
raw_signature high_s_twin(const raw_signature& sig);

}  // namespace ec::protocol
