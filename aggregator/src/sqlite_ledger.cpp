// Validation, the ledger chain, checkpoints and credits on SQLite.
#include <algorithm>

#include "ec/aggregator/ledger.hpp"
#include "sqlite_storage_impl.hpp"

namespace ec::aggregator {
namespace {

using namespace sqlite_detail;

result<void> credit_locked(sql::database& db, const credit_grant& g, const std::string& wu_id,
                           const std::string& reason, std::uint64_t now_ms) {
  auto bal = db.prepare(
      "INSERT INTO credits (principal, amount) VALUES (?1, ?2) ON CONFLICT (principal) DO UPDATE SET amount = amount "
      "+ ?2");
  if (!bal) return bal.err();
  if (auto r = bal->bind_text(1, g.principal).bind(2, g.amount).run(); !r)
    return fail(r.code(), "credit to " + g.principal + ": " + r.err().message);
  auto ev = db.prepare(
      "INSERT INTO credit_events (principal, agent_id, wu_id, delta, reason, at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (!ev) return ev.err();
  ev->bind_text(1, g.principal).bind_text(2, g.agent_id).bind_text(3, wu_id).bind(4, g.amount);
  return ev->bind_text(5, reason).bind_u64(6, now_ms).run();
}

result<std::optional<ledger_entry>> head_locked(sql::database& db) {
  auto q = db.prepare(std::string("SELECT ") + ledger_columns + " FROM ledger ORDER BY seq DESC LIMIT 1");
  if (!q) return q.err();
  auto row = q->step();
  if (!row) return row.err();
  if (!*row) return std::optional<ledger_entry>();
  return std::optional<ledger_entry>(read_ledger_entry(*q));
}

checkpoint_row read_checkpoint(const sql::query& q) {
  checkpoint_row c;
  c.count = q.col_u64(0);
  if (!q.col_array(1, c.head_hash)) c.head_hash.fill(0);
  c.created_at_ms = q.col_u64(2);
  if (!q.col_array(3, c.signer)) c.signer.fill(0);
  if (!q.col_array(4, c.signature)) c.signature.fill(0);
  return c;
}

constexpr const char* checkpoint_select = "SELECT count, head_hash, created_at_ms, key_id, signature FROM checkpoints ";

}  // namespace

result<std::optional<ledger_entry>> sqlite_storage::validate_work_unit(const validation_commit& commit) {
  auto principals = canonical_principals(commit.principals);
  if (principals.empty())
    return fail(error_code::invalid_argument, "validation of " + commit.wu_id + " names no principal");
  for (const auto& p : principals)
    if (!is_valid_principal_name(p)) return fail(error_code::invalid_argument, "invalid principal name '" + p + "'");

  std::lock_guard lock(impl_->mu);
  auto& db = *impl_->db;
  const relaxed_sync relaxed(db);  // re-derived from the durable results after a crash
  auto tx = sql::transaction::begin(db);
  if (!tx) return tx.err();
  // Read the head inside the write transaction, so two aggregators never chain onto the same entry.
  auto head = head_locked(db);
  if (!head) return head.err();
  ledger_entry e;
  e.seq = head->has_value() ? (*head)->seq + 1 : 1;
  if (head->has_value()) e.prev_hash = (*head)->entry_hash;
  e.wu_id = commit.wu_id;
  e.canonical_digest = commit.canonical_digest;
  e.principals = std::move(principals);
  e.time_ms = commit.now_ms;
  e.entry_hash = ledger_entry_hash(e);

  // Order matters only for readability: everything below commits or rolls back together.
  auto wu = db.prepare(
      "UPDATE work_units SET state = 'validated', canonical_digest = ?2, final_at_ms = ?3, ledger_seq = ?4 WHERE "
      "wu_id = ?1 AND state IN ('pending', 'running')");
  if (!wu) return wu.err();
  wu->bind_text(1, commit.wu_id).bind_blob(2, commit.canonical_digest).bind_u64(3, commit.now_ms);
  EC_SQL_TRY(wu->bind_u64(4, e.seq).run());
  if (db.changes() == 0) {
    auto exists = db.prepare("SELECT 1 FROM work_units WHERE wu_id = ?1");
    if (!exists) return exists.err();
    auto row = exists->bind_text(1, commit.wu_id).step();
    if (!row) return row.err();
    if (!*row) return fail(error_code::invalid_argument, "no work unit " + commit.wu_id);
    return std::optional<ledger_entry>();  // already final: another aggregator validated or failed it
  }
  for (const auto& g : commit.credits) EC_SQL_TRY(credit_locked(db, g, commit.wu_id, "validated", commit.now_ms));
  EC_SQL_TRY(settle_job(db, commit.wu_id));
  auto ins = db.prepare(
      "INSERT INTO ledger (seq, prev_hash, entry_hash, wu_id, canonical_digest, principals, time_ms) VALUES (?1, ?2, "
      "?3, ?4, ?5, ?6, ?7)");
  if (!ins) return ins.err();
  ins->bind_u64(1, e.seq).bind_blob(2, e.prev_hash).bind_blob(3, e.entry_hash).bind_text(4, e.wu_id);
  ins->bind_blob(5, e.canonical_digest).bind_text(6, join_principals(e.principals)).bind_u64(7, e.time_ms);
  if (auto r = ins->run(); !r) return fail(r.code(), "ledger append for " + commit.wu_id + ": " + r.err().message);
  EC_SQL_TRY(tx->commit());
  return std::optional<ledger_entry>(std::move(e));
}

result<std::vector<ledger_entry>> sqlite_storage::ledger_entries(std::uint64_t from_seq, std::uint32_t limit) {
  std::lock_guard lock(impl_->mu);
  auto q = impl_->db->prepare(std::string("SELECT ") + ledger_columns +
                              " FROM ledger WHERE seq >= ?1 ORDER BY seq LIMIT ?2");
  if (!q) return q.err();
  q->bind_u64(1, from_seq).bind(2, limit);
  std::vector<ledger_entry> out;
  for (;;) {
    auto row = q->step();
    if (!row) return row.err();
    if (!*row) break;
    out.push_back(read_ledger_entry(*q));
  }
  return out;
}

result<std::optional<ledger_entry>> sqlite_storage::ledger_head() {
  std::lock_guard lock(impl_->mu);
  return head_locked(*impl_->db);
}

result<void> sqlite_storage::insert_checkpoint(const checkpoint_row& c) {
  std::lock_guard lock(impl_->mu);
  // Another aggregator may have signed the same count: the first checkpoint stays.
  auto q = impl_->db->prepare(
      "INSERT INTO checkpoints (count, head_hash, created_at_ms, key_id, signature) VALUES (?1, ?2, ?3, ?4, ?5) ON "
      "CONFLICT (count) DO NOTHING");
  if (!q) return q.err();
  q->bind_u64(1, c.count).bind_blob(2, c.head_hash).bind_u64(3, c.created_at_ms).bind_blob(4, c.signer);
  return q->bind_blob(5, c.signature).run();
}

result<std::vector<checkpoint_row>> sqlite_storage::checkpoints() {
  std::lock_guard lock(impl_->mu);
  auto q = impl_->db->prepare(std::string(checkpoint_select) + "ORDER BY count");
  if (!q) return q.err();
  std::vector<checkpoint_row> out;
  for (;;) {
    auto row = q->step();
    if (!row) return row.err();
    if (!*row) break;
    out.push_back(read_checkpoint(*q));
  }
  return out;
}

result<std::optional<checkpoint_row>> sqlite_storage::last_checkpoint() {
  std::lock_guard lock(impl_->mu);
  auto q = impl_->db->prepare(std::string(checkpoint_select) + "ORDER BY count DESC LIMIT 1");
  if (!q) return q.err();
  auto row = q->step();
  if (!row) return row.err();
  if (!*row) return std::optional<checkpoint_row>();
  return std::optional<checkpoint_row>(read_checkpoint(*q));
}

result<std::uint64_t> sqlite_storage::highest_referenced_ledger_seq() {
  std::lock_guard lock(impl_->mu);
  auto q = impl_->db->prepare("SELECT coalesce(max(ledger_seq), 0) FROM work_units WHERE state = 'validated'");
  if (!q) return q.err();
  auto row = q->step();
  if (!row) return row.err();
  return *row ? q->col_u64(0) : 0;
}

result<void> sqlite_storage::add_credits(const credit_grant& grant, const std::string& reason, std::uint64_t now_ms) {
  std::lock_guard lock(impl_->mu);
  auto tx = sql::transaction::begin(*impl_->db);
  if (!tx) return tx.err();
  EC_SQL_TRY(credit_locked(*impl_->db, grant, "", reason, now_ms));
  return tx->commit();
}

result<std::int64_t> sqlite_storage::claw_back(const std::string& agent_id, std::uint64_t since_ms,
                                               const std::string& reason, std::uint64_t now_ms) {
  std::lock_guard lock(impl_->mu);
  auto& db = *impl_->db;
  auto tx = sql::transaction::begin(db);
  if (!tx) return tx.err();
  std::vector<credit_grant> owed;
  {
    auto q = db.prepare(
        "SELECT principal, sum(delta) FROM credit_events WHERE agent_id = ?1 AND at_ms >= ?2 AND delta > 0 AND "
        "clawed_back = 0 GROUP BY principal");
    if (!q) return q.err();
    q->bind_text(1, agent_id).bind_u64(2, since_ms);
    for (;;) {
      auto row = q->step();
      if (!row) return row.err();
      if (!*row) break;
      owed.push_back({q->col_text(0), agent_id, -q->col_int(1)});
    }
  }
  auto mark = db.prepare(
      "UPDATE credit_events SET clawed_back = 1 WHERE agent_id = ?1 AND at_ms >= ?2 AND delta > 0 AND clawed_back = "
      "0");
  if (!mark) return mark.err();
  EC_SQL_TRY(mark->bind_text(1, agent_id).bind_u64(2, since_ms).run());
  std::int64_t total = 0;
  for (const auto& g : owed) {
    EC_SQL_TRY(credit_locked(db, g, "", "clawback: " + reason, now_ms));
    total -= g.amount;
  }
  EC_SQL_TRY(tx->commit());
  return total;
}

result<std::int64_t> sqlite_storage::credit_balance(const std::string& principal) {
  std::lock_guard lock(impl_->mu);
  auto q = impl_->db->prepare("SELECT amount FROM credits WHERE principal = ?1");
  if (!q) return q.err();
  q->bind_text(1, principal);
  auto row = q->step();
  if (!row) return row.err();
  return *row ? q->col_int(0) : std::int64_t{0};
}

result<std::vector<std::string>> sqlite_storage::unreplicated_validations(const std::string& agent_id,
                                                                          std::uint64_t since_ms) {
  std::lock_guard lock(impl_->mu);
  // A single contributing principal has no '\n' in the ledger's principals column.
  auto q = impl_->db->prepare(
      "SELECT DISTINCT e.wu_id FROM credit_events e JOIN work_units w ON w.wu_id = e.wu_id JOIN ledger l ON l.seq = "
      "w.ledger_seq WHERE e.agent_id = ?1 AND e.at_ms >= ?2 AND e.delta > 0 AND instr(l.principals, char(10)) = 0 "
      "ORDER BY e.wu_id");
  if (!q) return q.err();
  q->bind_text(1, agent_id).bind_u64(2, since_ms);
  std::vector<std::string> out;
  for (;;) {
    auto row = q->step();
    if (!row) return row.err();
    if (!*row) break;
    out.push_back(q->col_text(0));
  }
  return out;
}

}  // namespace ec::aggregator
