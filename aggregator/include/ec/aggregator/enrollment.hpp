// Enrollment: which agent keys the aggregator serves and under which principal (protocol.md, "Enrollment,
// aggregator side"): an allowlist file, operator-issued tokens carried in the first hello, or open (demo only).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ec/aggregator/aggregator_config.hpp"
#include "ec/aggregator/storage.hpp"
#include "ec/protocol/keys.hpp"
#include "ec/protocol/message_views.hpp"
#include "ec/protocol/trust_store.hpp"

namespace ec::aggregator {

/// SHA-256 of a token's text: the only form in which storage keeps an enrollment token.
sha256_digest token_hash(std::string_view token);

/// A fresh enrollment token (256 bits of OS entropy, hex) for `edgectl enroll`.
result<std::string> generate_token();

/// The principal an open-mode key is enrolled under: its agent_id (every key its own principal; storage names it).
std::string open_principal(const std::string& agent_id);

/// One line of an allowlist file: "<principal> <public key PEM file>" ('#' starts a comment; paths relative to
/// the allowlist file's folder).
struct allowlist_entry {
  std::string principal;
  protocol::public_key key;
};

/// Reads an allowlist file; messages name the line.
result<std::vector<allowlist_entry>> load_allowlist(const std::string& path);

/// Admits hello keys by the configured mode; one per service.
class enrollment_gate {
 public:
  enrollment_gate(storage& db, enrollment_mode mode);
  /// Stores the allowlist's keys under their principals (allowlist mode; harmless in the others).
  result<void> admit_allowlist(const std::vector<allowlist_entry>& entries, std::uint64_t now_ms);
  /// The enrolled row for a hello's (already verified) key: enrolled before, or admitted now by the mode (a
  /// token in the hello binds the key to the token's principal). untrusted_key when it may not join.
  result<agent_key_row> admit(const protocol::public_key& key, std::string_view enrollment_token, std::uint64_t now_ms);
  [[nodiscard]] enrollment_mode mode() const { return mode_; }

 private:
  storage& db_;
  enrollment_mode mode_;
};

/// The trust store of WorkRequests and ResultBatches: keys enrolled in storage (by any aggregator of the region),
/// cached; unknown keys are looked up at most once a second each, so that a flood of forged key ids costs no more
/// than one query per second per id... bounded by the cache size.
class enrolled_keys final : public protocol::trust_store {
 public:
  enrolled_keys(storage& db, protocol::verifier_factory factory);
  /// Adds a key known to be enrolled (after a hello was admitted).
  void remember(const protocol::public_key& key);
  [[nodiscard]] const protocol::verifier* find(const key_id& id, protocol::message_kind kind) const override;
  [[nodiscard]] std::unique_ptr<protocol::verifier> make_verifier(const protocol::public_key& key) const override;

 private:
  storage& db_;
  protocol::verifier_factory factory_;
  mutable std::mutex mu_;
  mutable std::map<key_id, std::unique_ptr<protocol::verifier>> known_;
  mutable std::map<key_id, std::uint64_t> misses_;  // key id -> steady ms of the last failed lookup
};

}  // namespace ec::aggregator
