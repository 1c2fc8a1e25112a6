// The tamper-evident ledger: a hash chain of validated work units with signed checkpoints, and its verifier.
//
// Entry hash (seq = 1, 2, ...; prev_hash of seq 1 is 32 zero bytes; integers little-endian):
//   entry_hash = SHA-256(prev_hash(32) || u64 seq || u32 len(wu_id) || wu_id || canonical_digest(32)
//                        || u32 n || n x (u32 len(principal) || principal) || u64 time_ms)
// with the principals sorted byte-wise and distinct. A checkpoint signs (count, head hash = entry_hash of entry
// `count`, created_at_ms) with the aggregator's key, through protocol.md's signing input with kind byte
// ledger_checkpoint_kind and an empty region prefix:
//   SHA-256("edgecompute/v1\n" || 0x11 || key_id(32) || 0x00 || u64 count || head_hash(32) || u64 created_at_ms)
// Signing one checkpoint per N entries (or T ms) keeps signing off the validation path; a checkpoint fixes
// every entry up to its count, so a rewrite or a truncation below the newest checkpoint is detectable.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ec/aggregator/storage.hpp"
#include "ec/protocol/signer.hpp"

namespace ec::aggregator {

/// Kind byte of ledger checkpoint signatures: outside the envelope kinds (1..6) and the code kind (0x10), so a
/// checkpoint signature can never pass as a message or as code, nor the reverse.
inline constexpr std::uint8_t ledger_checkpoint_kind = 0x11;

/// Sorts and de-duplicates principal names: the canonical order of a ledger entry.
std::vector<std::string> canonical_principals(std::vector<std::string> names);

/// The entry hash of `e` (from e.prev_hash and its fields; e.entry_hash is ignored).
sha256_digest ledger_entry_hash(const ledger_entry& e);

/// The digest a checkpoint signature covers.
sha256_digest checkpoint_digest(const key_id& signer, std::uint64_t count, const sha256_digest& head_hash,
                                std::uint64_t created_at_ms);

struct ledger_config {
  /// Sign a checkpoint once this many entries are not covered yet...
  std::uint64_t checkpoint_every_entries = 1000;
  /// ...or once this long has passed since the last checkpoint, whichever comes first.
  std::uint64_t checkpoint_every_ms = 1000;
};

/// Records validations and signs checkpoints when due. Not thread-safe: one per aggregator event loop. Several
/// aggregators on one database each sign; a checkpoint for a count already signed is skipped.
class ledger {
 public:
  ledger(storage& db, const protocol::signer& key, ledger_config config);

  /// storage::validate_work_unit, then a checkpoint if one is due (a failed checkpoint is retried next time:
  /// the validation is committed either way). nullopt: the work unit was already final.
  result<std::optional<ledger_entry>> record_validation(const validation_commit& commit);
  /// Signs a checkpoint of the head if entries are uncovered and N entries or T ms have passed; call it from a
  /// timer so an idle ledger is checkpointed too. Returns whether it signed.
  result<bool> maybe_checkpoint(std::uint64_t now_ms);
  /// Signs a checkpoint of the head now if any entry is uncovered (at shutdown).
  result<bool> checkpoint_now(std::uint64_t now_ms);

 private:
  result<void> load_last();
  result<bool> sign_head(const ledger_entry& head, std::uint64_t now_ms);

  storage& db_;
  const protocol::signer& key_;
  ledger_config config_;
  bool loaded_ = false;
  std::uint64_t last_count_ = 0;
  std::uint64_t last_time_ms_ = 0;
};

/// The aggregator keys (trust.aggregator_keys) whose checkpoint signatures verify_ledger() accepts.
class checkpoint_trust {
 public:
  explicit checkpoint_trust(protocol::verifier_factory factory);
  void trust(const protocol::public_key& key);
  /// The verifier of a trusted key, else null.
  [[nodiscard]] const protocol::verifier* find(const key_id& id) const;

 private:
  protocol::verifier_factory factory_;
  std::map<key_id, std::unique_ptr<protocol::verifier>> keys_;
};

/// The first bad entry: its seq and why.
struct ledger_problem {
  std::uint64_t seq = 0;
  std::string reason;
};

struct ledger_verification {
  std::uint64_t entries = 0;               // entries read
  std::uint64_t checkpoints = 0;           // checkpoints read
  std::uint64_t checkpointed_through = 0;  // highest count of a good checkpoint
  std::optional<ledger_problem> first_problem;
  [[nodiscard]] bool ok() const { return !first_problem.has_value(); }
};

/// Recomputes the chain and every checkpoint signature; names the first bad entry (a changed field, a missing
/// entry, a tail truncated below a checkpoint or below the work units' ledger references, a forged or
/// untrusted checkpoint). Errors are storage failures only; a bad ledger is a value.
result<ledger_verification> verify_ledger(storage& db, const checkpoint_trust& trust);

}  // namespace ec::aggregator
