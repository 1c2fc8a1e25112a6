// Mbed TLS implementation of signer and verifier: deterministic ECDSA (RFC 6979), the agent's choice.
#pragma once

#include "ec/protocol/signer.hpp"

namespace ec::protocol {

/// Signs with a private key held in memory, deterministically (RFC 6979) and low-s.
class mbedtls_signer final : public signer {
public:
  explicit mbedtls_signer(private_key key);
  [[nodiscard]] const public_key& key() const override { return key_.public_half(); }
  [[nodiscard]] result<raw_signature> sign_digest(const sha256_digest& digest) const override;

private:
  private_key key_;
};

/// Verifies with Mbed TLS; rejects high-s.
class mbedtls_verifier final : public verifier {
public:
  explicit mbedtls_verifier(public_key key);
  ~mbedtls_verifier() override;
  mbedtls_verifier(const mbedtls_verifier&) = delete;
  mbedtls_verifier& operator=(const mbedtls_verifier&) = delete;
  [[nodiscard]] const public_key& key() const override { return key_; }
  [[nodiscard]] result<void> verify_digest(const sha256_digest& digest, const raw_signature& sig) const override;

private:
  public_key key_;
  void* ctx_;  // mbedtls_ecdsa_context*, with the group and point loaded once
};

/// A verifier_factory that makes mbedtls_verifier objects.
verifier_factory mbedtls_verifier_factory();

}  // namespace ec::protocol
