// SHA-256, the one hash of the protocol (signatures, key ids, digests).
#pragma once

#include "ec/protocol/bytes.hpp"

namespace ec::protocol {

/// Incremental SHA-256 (OpenSSL or Mbed TLS underneath, chosen at build time: EC_SHA256_IMPLEMENTATION).
class sha256 {
 public:
  sha256();
  ~sha256();
  sha256(const sha256&) = delete;
  sha256& operator=(const sha256&) = delete;

  /// Feeds bytes.
  sha256& update(byte_span data);
  /// Feeds one byte.
  sha256& update_byte(std::uint8_t b);
  /// Feeds an unsigned integer as little-endian bytes of its width.
  sha256& update_u32_le(std::uint32_t v);
  sha256& update_u64_le(std::uint64_t v);
  /// Returns the digest; the object must not be used afterwards.
  sha256_digest finish();

 private:
  alignas(8) unsigned char ctx_[128];  // mbedtls_sha256_context or an EVP_MD_CTX*, opaque to callers
};

/// One-shot SHA-256 of a byte range.
sha256_digest sha256_of(byte_span data);

}  // namespace ec::protocol
