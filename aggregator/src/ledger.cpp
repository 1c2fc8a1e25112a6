// The ledger's hash chain, checkpoint signing and verification (the encoding is in ledger.hpp).
#include "ec/aggregator/ledger.hpp"

#include <algorithm>

#include "ec/protocol/sha256.hpp"
#include "ec/protocol/signing_input.hpp"

namespace ec::aggregator {
namespace {

// Entries are read in pages, so verifying a long ledger needs little memory.
constexpr std::uint32_t verify_page = 1024;

std::uint32_t len32(std::size_t n) { return static_cast<std::uint32_t>(n); }

std::string seq_text(std::uint64_t seq) { return "entry " + std::to_string(seq); }

}  // namespace

std::vector<std::string> canonical_principals(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

sha256_digest ledger_entry_hash(const ledger_entry& e) {
  protocol::sha256 h;
  h.update(e.prev_hash);
  h.update_u64_le(e.seq);
  h.update_u32_le(len32(e.wu_id.size()));
  h.update(protocol::as_bytes(e.wu_id));
  h.update(e.canonical_digest);
  h.update_u32_le(len32(e.principals.size()));
  for (const auto& p : e.principals) {
    h.update_u32_le(len32(p.size()));
    h.update(protocol::as_bytes(p));
  }
  h.update_u64_le(e.time_ms);
  return h.finish();
}

sha256_digest checkpoint_digest(const key_id& signer, std::uint64_t count, const sha256_digest& head_hash,
                                std::uint64_t created_at_ms) {
  std::array<std::uint8_t, 8 + 32 + 8> body{};
  for (std::size_t i = 0; i < 8; ++i) {
    body[i] = static_cast<std::uint8_t>(count >> (8 * i));
    body[40 + i] = static_cast<std::uint8_t>(created_at_ms >> (8 * i));
  }
  std::copy(head_hash.begin(), head_hash.end(), body.begin() + 8);
  // The prefix is empty, so signing_digest cannot fail.
  return signing_digest(static_cast<protocol::message_kind>(ledger_checkpoint_kind), signer, "", body).value();
}

ledger::ledger(storage& db, const protocol::signer& key, ledger_config config) : db_(db), key_(key), config_(config) {}

result<void> ledger::load_last() {
  if (loaded_) return {};
  auto last = db_.last_checkpoint();
  if (!last) return last.err();
  if (last->has_value()) {
    last_count_ = (*last)->count;
    last_time_ms_ = (*last)->created_at_ms;
  }
  loaded_ = true;
  return {};
}

result<bool> ledger::sign_head(const ledger_entry& head, std::uint64_t now_ms) {
  checkpoint_row c;
  c.count = head.seq;
  c.head_hash = head.entry_hash;
  c.created_at_ms = now_ms;
  c.signer = key_.key().id();
  auto sig = key_.sign_digest(checkpoint_digest(c.signer, c.count, c.head_hash, c.created_at_ms));
  if (!sig) return sig.err();
  c.signature = *sig;
  if (auto r = db_.insert_checkpoint(c); !r) return r.err();
  last_count_ = c.count;
  last_time_ms_ = now_ms;
  return true;
}

result<std::optional<ledger_entry>> ledger::record_validation(const validation_commit& commit) {
  auto entry = db_.validate_work_unit(commit);
  if (!entry) return entry;
  // The validation is committed; a failed checkpoint only delays the next one.
  if (entry->has_value()) (void)maybe_checkpoint(commit.now_ms);
  return entry;
}

result<bool> ledger::maybe_checkpoint(std::uint64_t now_ms) {
  if (auto r = load_last(); !r) return r.err();
  auto head = db_.ledger_head();
  if (!head) return head.err();
  if (!head->has_value() || (*head)->seq <= last_count_) return false;
  // The first entry after an idle spell starts the clock, so a lone entry waits at most T for its checkpoint.
  if (last_count_ == 0 && last_time_ms_ == 0) last_time_ms_ = (*head)->time_ms;
  const bool by_count = (*head)->seq - last_count_ >= config_.checkpoint_every_entries;
  const bool by_time = now_ms >= last_time_ms_ + config_.checkpoint_every_ms;
  if (!by_count && !by_time) return false;
  return sign_head(**head, now_ms);
}

result<bool> ledger::checkpoint_now(std::uint64_t now_ms) {
  if (auto r = load_last(); !r) return r.err();
  auto head = db_.ledger_head();
  if (!head) return head.err();
  if (!head->has_value() || (*head)->seq <= last_count_) return false;
  return sign_head(**head, now_ms);
}

checkpoint_trust::checkpoint_trust(protocol::verifier_factory factory) : factory_(std::move(factory)) {}

void checkpoint_trust::trust(const protocol::public_key& key) {
  auto& v = keys_[key.id()];
  if (!v) v = factory_(key);
}

const protocol::verifier* checkpoint_trust::find(const key_id& id) const {
  auto it = keys_.find(id);
  return it == keys_.end() ? nullptr : it->second.get();
}

result<ledger_verification> verify_ledger(storage& db, const checkpoint_trust& trust) {
  ledger_verification out;
  // Problems are collected with their seq; the smallest is the first bad entry.
  auto note = [&out](std::uint64_t seq, std::string why) {
    if (!out.first_problem || seq < out.first_problem->seq) out.first_problem = ledger_problem{seq, std::move(why)};
  };

  auto cps = db.checkpoints();
  if (!cps) return cps.err();
  out.checkpoints = cps->size();
  std::vector<const checkpoint_row*> good;  // signature verified, in order of count
  for (const auto& c : *cps) {
    const auto* v = trust.find(c.signer);
    if (v == nullptr) {
      note(c.count,
           "checkpoint at " + std::to_string(c.count) + " is signed by an untrusted key " + protocol::to_hex(c.signer));
      continue;
    }
    if (auto r = v->verify_digest(checkpoint_digest(c.signer, c.count, c.head_hash, c.created_at_ms), c.signature);
        !r) {
      note(c.count, "checkpoint at " + std::to_string(c.count) + " has a bad signature (" + r.err().message + ")");
      continue;
    }
    good.push_back(&c);
  }

  // Walk the chain; stop at its first break (everything after it follows from it).
  std::size_t next_cp = 0;
  std::uint64_t expected = 1;
  sha256_digest prev{};
  bool broken = false;
  while (!broken) {
    auto page = db.ledger_entries(expected, verify_page);
    if (!page) return page.err();
    for (const auto& e : *page) {
      ++out.entries;
      if (e.seq != expected) {
        note(expected, seq_text(expected) + " is missing (the next stored entry is " + std::to_string(e.seq) + ")");
        broken = true;
        break;
      }
      if (e.prev_hash != prev) {
        note(e.seq, seq_text(e.seq) + ": prev_hash does not match the hash of entry " + std::to_string(e.seq - 1));
        broken = true;
        break;
      }
      if (e.principals.empty() || canonical_principals(e.principals) != e.principals) {
        note(e.seq, seq_text(e.seq) + ": principals are not a sorted list of distinct names");
        broken = true;
        break;
      }
      if (ledger_entry_hash(e) != e.entry_hash) {
        note(e.seq, seq_text(e.seq) + " (work unit " + e.wu_id + "): entry_hash does not match its fields");
        broken = true;
        break;
      }
      while (next_cp < good.size() && good[next_cp]->count < e.seq) ++next_cp;
      if (next_cp < good.size() && good[next_cp]->count == e.seq) {
        if (good[next_cp]->head_hash != e.entry_hash) {
          note(e.seq, "checkpoint at " + std::to_string(e.seq) + " names another head hash: entries up to " +
                          std::to_string(e.seq) + " were rewritten after it was signed");
          broken = true;
          break;
        }
        out.checkpointed_through = e.seq;
      }
      prev = e.entry_hash;
      ++expected;
    }
    if (page->size() < verify_page) break;
  }
  if (broken) return out;

  const std::uint64_t last = expected - 1;
  if (!good.empty() && good.back()->count > last)
    note(last + 1, "the ledger ends at entry " + std::to_string(last) + " but a checkpoint covers " +
                       std::to_string(good.back()->count) + " entries: the tail was truncated");
  auto referenced = db.highest_referenced_ledger_seq();
  if (!referenced) return referenced.err();
  if (*referenced > last)
    note(last + 1, "the ledger ends at entry " + std::to_string(last) + " but validated work units refer to entry " +
                       std::to_string(*referenced) + ": the tail was truncated");
  return out;
}

}  // namespace ec::aggregator
