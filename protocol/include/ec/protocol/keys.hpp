// P-256 keys: generation, PEM files, the canonical SPKI encoding, key_id and agent_id.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "ec/protocol/bytes.hpp"
#include "ec/protocol/error.hpp"

namespace ec::protocol {

/// A parsed P-256 public key with its canonical SPKI DER (uncompressed point, named curve) and key_id.
class public_key {
public:
  /// Parses SPKI DER; with `require_canonical`, bytes that differ from the canonical re-encoding are refused.
  static result<public_key> from_spki_der(byte_span der, bool require_canonical);
  /// Parses a PEM "PUBLIC KEY" (or a private key PEM, taking its public half).
  static result<public_key> from_pem(std::string_view pem);
  /// Reads a PEM public key from a file.
  static result<public_key> load(const std::filesystem::path& path);

  /// Canonical SPKI DER, re-encoded from the parsed key.
  [[nodiscard]] const bytes& spki_der() const { return spki_; }
  /// SHA-256 of the canonical SPKI DER.
  [[nodiscard]] const key_id& id() const { return id_; }
  /// Uncompressed point 0x04 || X || Y (65 bytes).
  [[nodiscard]] const bytes& point() const { return point_; }
  /// PEM "PUBLIC KEY" text.
  [[nodiscard]] std::string to_pem() const;

private:
  bytes spki_;
  bytes point_;
  key_id id_{};
};

/// A P-256 private key held in memory (Mbed TLS); movable, not copyable.
class private_key {
public:
  private_key();
  ~private_key();
  private_key(private_key&&) noexcept;
  private_key& operator=(private_key&&) noexcept;
  private_key(const private_key&) = delete;
  private_key& operator=(const private_key&) = delete;

  /// Generates a fresh key from the OS entropy source.
  static result<private_key> generate();
  /// Parses a PEM private key (SEC1 "EC PRIVATE KEY" or PKCS#8 "PRIVATE KEY"); only P-256 is accepted.
  static result<private_key> from_pem(std::string_view pem);
  /// Reads a PEM private key; refuses a file that group or others can read (mode must be 0600 or stricter).
  static result<private_key> load(const std::filesystem::path& path);

  /// Writes the key as PEM with mode 0600, atomically (temp file, fsync, rename).
  [[nodiscard]] result<void> save(const std::filesystem::path& path) const;
  /// SEC1 PEM text of the private key (handle with care).
  [[nodiscard]] result<std::string> to_pem() const;
  /// The public half.
  [[nodiscard]] const public_key& public_half() const { return public_; }

  /// Opaque Mbed TLS context (mbedtls_pk_context*), for the Mbed TLS signer only.
  [[nodiscard]] void* native_handle() const { return pk_.get(); }

private:
  struct pk_deleter {
    void operator()(void* pk) const;
  };
  std::unique_ptr<void, pk_deleter> pk_;
  public_key public_;
};

/// Lowercase hex of the first 16 bytes of key_id: the agent's name in topics and logs.
std::string agent_id_of(const key_id& id);

/// Saves a public key as PEM (mode 0644), atomically.
result<void> save_public_key(const public_key& key, const std::filesystem::path& path);

}  // namespace ec::protocol
