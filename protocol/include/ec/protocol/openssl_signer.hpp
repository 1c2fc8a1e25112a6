// OpenSSL implementation of signer and verifier (~30x faster than Mbed TLS; for the aggregator).
#pragma once

#include <filesystem>

#include "ec/protocol/signer.hpp"

namespace ec::protocol {

/// Signs with OpenSSL 3. OpenSSL 3.0 has no RFC 6979, so signatures use a random k (both verify the same);
/// s is normalised to the low half.
class openssl_signer final : public signer {
public:
  /// Loads the private key from PEM text; only P-256 is accepted.
  static result<std::unique_ptr<openssl_signer>> from_pem(std::string_view pem);
  ~openssl_signer() override;
  openssl_signer(const openssl_signer&) = delete;
  openssl_signer& operator=(const openssl_signer&) = delete;
  [[nodiscard]] const public_key& key() const override { return key_; }
  [[nodiscard]] result<raw_signature> sign_digest(const sha256_digest& digest) const override;

private:
  openssl_signer(void* pkey, public_key key) : pkey_(pkey), key_(std::move(key)) {}
  void* pkey_;  // EVP_PKEY*
  public_key key_;
};

/// Verifies with OpenSSL 3; rejects high-s.
class openssl_verifier final : public verifier {
public:
  explicit openssl_verifier(public_key key);
  ~openssl_verifier() override;
  openssl_verifier(const openssl_verifier&) = delete;
  openssl_verifier& operator=(const openssl_verifier&) = delete;
  [[nodiscard]] const public_key& key() const override { return key_; }
  [[nodiscard]] result<void> verify_digest(const sha256_digest& digest, const raw_signature& sig) const override;

private:
  public_key key_;
  void* pkey_;  // EVP_PKEY*, null if the key could not be loaded (every verify then fails)
};

/// A verifier_factory that makes openssl_verifier objects.
verifier_factory openssl_verifier_factory();

}  // namespace ec::protocol
