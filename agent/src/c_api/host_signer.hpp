// The agent's signer when the host holds the key (Android Keystore, StrongBox): each digest goes to the host's
// sign function; the answer is checked against the host's public key before the agent uses it.
#pragma once

#include <memory>

#include "ec/protocol/signer.hpp"
#include "edge_agent.h"

namespace ec::agent::c_api {

/// A protocol::signer over the host's callback; never holds a private key.
class host_signer final : public protocol::signer {
 public:
  /// Parses the host's public key (SPKI DER or PEM) and keeps the callback.
  static result<std::shared_ptr<host_signer>> from(const edge_agent_signer& host);
  [[nodiscard]] const protocol::public_key& key() const override { return key_; }
  /// Asks the host to sign; accepts raw r||s or DER, normalises to low-s and verifies before returning.
  [[nodiscard]] result<protocol::raw_signature> sign_digest(const protocol::sha256_digest& digest) const override;

 private:
  host_signer(protocol::public_key key, edge_agent_sign_fn fn, void* user);

  protocol::public_key key_;
  std::unique_ptr<protocol::verifier> verifier_;
  edge_agent_sign_fn fn_;
  void* user_;
};

/// r||s from a 64-byte raw signature or an ASN.1 DER ECDSA-Sig-Value; nothing for anything else.
result<protocol::raw_signature> parse_host_signature(protocol::byte_span sig);

}  // namespace ec::agent::c_api
