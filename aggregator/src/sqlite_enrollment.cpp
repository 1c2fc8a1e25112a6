// Enrollment on SQLite: principals, allowlisted and open keys, tokens with a key limit, hellos and trust.
#include "sqlite_storage_impl.hpp"

namespace ec::aggregator {
namespace {

using namespace sqlite_detail;

// Inside a transaction: adds the principal or checks that an existing one has the same kind.
result<void> ensure_principal_locked(sql::database& db, const std::string& name, principal_kind kind,
                                     std::uint64_t now_ms) {
  if (!is_valid_principal_name(name))
    return fail(error_code::invalid_argument, "principal name '" + name + "' is not 1..64 of [A-Za-z0-9._@:-]");
  auto find = db.prepare("SELECT kind FROM principals WHERE name = ?1");
  if (!find) return find.err();
  find->bind_text(1, name);
  auto row = find->step();
  if (!row) return row.err();
  if (*row) {
    const auto have = find->col_text(0);
    if (have != to_string(kind))
      return fail(error_code::invalid_argument,
                  "principal " + name + " is enrolled by " + have + ", not " + std::string(to_string(kind)));
    return {};
  }
  auto add = db.prepare("INSERT INTO principals (name, kind, created_at_ms) VALUES (?1, ?2, ?3)");
  if (!add) return add.err();
  return add->bind_text(1, name).bind_text(2, to_string(kind)).bind_u64(3, now_ms).run();
}

result<std::optional<agent_key_row>> find_key_locked(sql::database& db, const key_id& id) {
  auto q = db.prepare(std::string("SELECT ") + agent_key_columns + " FROM agent_keys WHERE key_id = ?1");
  if (!q) return q.err();
  q->bind_blob(1, id);
  auto row = q->step();
  if (!row) return row.err();
  if (!*row) return std::optional<agent_key_row>();
  return std::optional<agent_key_row>(read_agent_key(*q));
}

result<void> insert_key_locked(sql::database& db, const key_admission& key, const std::string& principal,
                               const sha256_digest* token_hash, std::uint64_t now_ms) {
  if (key.agent_id.empty() || key.public_key_der.empty())
    return fail(error_code::invalid_argument, "key admission needs an agent_id and a public key");
  auto q = db.prepare(
      "INSERT INTO agent_keys (key_id, agent_id, principal, public_key, enrolled_at_ms, token_hash) VALUES (?1, ?2, "
      "?3, ?4, ?5, ?6)");
  if (!q) return q.err();
  q->bind_blob(1, key.id).bind_text(2, key.agent_id).bind_text(3, principal).bind_blob(4, key.public_key_der);
  q->bind_u64(5, now_ms);
  if (token_hash != nullptr)
    q->bind_blob(6, *token_hash);
  else
    q->bind_null(6);
  if (auto r = q->run(); !r) return fail(r.code(), "agent " + key.agent_id + ": " + r.err().message);
  return {};
}

}  // namespace

result<void> sqlite_storage::ensure_principal(const std::string& name, principal_kind kind, std::uint64_t now_ms) {
  std::lock_guard lock(impl_->mu);
  auto tx = sql::transaction::begin(*impl_->db);
  if (!tx) return tx.err();
  EC_SQL_TRY(ensure_principal_locked(*impl_->db, name, kind, now_ms));
  return tx->commit();
}

result<void> sqlite_storage::admit_keys(std::span<const key_admission> keys, principal_kind kind,
                                        std::uint64_t now_ms) {
  if (kind == principal_kind::token)
    return fail(error_code::invalid_argument, "token keys are admitted by enroll_with_token");
  std::lock_guard lock(impl_->mu);
  auto& db = *impl_->db;
  auto tx = sql::transaction::begin(db);
  if (!tx) return tx.err();
  for (const auto& key : keys) {
    // Open mode: every key is its own principal, named by its agent_id (no Sybil resistance).
    const std::string principal = kind == principal_kind::open ? key.agent_id : key.principal;
    auto existing = find_key_locked(db, key.id);
    if (!existing) return existing.err();
    if (existing->has_value()) continue;  // a key keeps the principal it was first enrolled under
    EC_SQL_TRY(ensure_principal_locked(db, principal, kind, now_ms));
    EC_SQL_TRY(insert_key_locked(db, key, principal, nullptr, now_ms));
  }
  return tx->commit();
}

result<void> sqlite_storage::add_token(const token_row& token) {
  if (token.key_limit == 0) return fail(error_code::invalid_argument, "a token's key limit must be at least 1");
  std::lock_guard lock(impl_->mu);
  auto& db = *impl_->db;
  auto tx = sql::transaction::begin(db);
  if (!tx) return tx.err();
  EC_SQL_TRY(ensure_principal_locked(db, token.principal, principal_kind::token, token.created_at_ms));
  auto q = db.prepare(
      "INSERT INTO enrollment_tokens (token_hash, principal, key_limit, used, created_at_ms, expires_at_ms, revoked) "
      "VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6)");
  if (!q) return q.err();
  q->bind_blob(1, token.token_hash).bind_text(2, token.principal).bind(3, token.key_limit);
  q->bind_u64(4, token.created_at_ms).bind_u64(5, token.expires_at_ms).bind(6, token.revoked ? 1 : 0);
  EC_SQL_TRY(q->run());
  return tx->commit();
}

result<std::optional<token_row>> sqlite_storage::find_token(const sha256_digest& token_hash) {
  std::lock_guard lock(impl_->mu);
  auto q = impl_->db->prepare(
      "SELECT token_hash, principal, key_limit, used, created_at_ms, expires_at_ms, revoked FROM enrollment_tokens "
      "WHERE token_hash = ?1");
  if (!q) return q.err();
  q->bind_blob(1, token_hash);
  auto row = q->step();
  if (!row) return row.err();
  if (!*row) return std::optional<token_row>();
  token_row t;
  (void)q->col_array(0, t.token_hash);
  t.principal = q->col_text(1);
  t.key_limit = q->col_u32(2);
  t.used = q->col_u32(3);
  t.created_at_ms = q->col_u64(4);
  t.expires_at_ms = q->col_u64(5);
  t.revoked = q->col_int(6) != 0;
  return std::optional<token_row>(std::move(t));
}

result<agent_key_row> sqlite_storage::enroll_with_token(const sha256_digest& token_hash, const key_admission& key,
                                                        std::uint64_t now_ms) {
  std::lock_guard lock(impl_->mu);
  auto& db = *impl_->db;
  auto tx = sql::transaction::begin(db);
  if (!tx) return tx.err();
  auto existing = find_key_locked(db, key.id);
  if (!existing) return existing.err();
  if (existing->has_value()) return std::move(**existing);  // a repeated hello: the token is not used again

  auto q = db.prepare(
      "SELECT principal, key_limit, used, expires_at_ms, revoked FROM enrollment_tokens WHERE token_hash = ?1");
  if (!q) return q.err();
  q->bind_blob(1, token_hash);
  auto row = q->step();
  if (!row) return row.err();
  if (!*row) return fail(error_code::untrusted_key, "agent " + key.agent_id + ": unknown enrollment token");
  const std::string principal = q->col_text(0);
  const auto limit = q->col_u64(1);
  const auto used = q->col_u64(2);
  const auto expires = q->col_u64(3);
  const bool revoked = q->col_int(4) != 0;
  if (revoked) return fail(error_code::untrusted_key, "agent " + key.agent_id + ": enrollment token revoked");
  if (expires != 0 && now_ms >= expires)
    return fail(error_code::untrusted_key, "agent " + key.agent_id + ": enrollment token expired");
  if (used >= limit)
    return fail(error_code::untrusted_key, "agent " + key.agent_id + ": enrollment token has enrolled its limit of " +
                                               std::to_string(limit) + " keys");
  EC_SQL_TRY(insert_key_locked(db, key, principal, &token_hash, now_ms));
  auto use = db.prepare("UPDATE enrollment_tokens SET used = used + 1 WHERE token_hash = ?1");
  if (!use) return use.err();
  EC_SQL_TRY(use->bind_blob(1, token_hash).run());
  auto added = find_key_locked(db, key.id);
  if (!added) return added.err();
  if (!added->has_value()) return fail(error_code::io_error, "sqlite: enrolled key vanished");
  EC_SQL_TRY(tx->commit());
  return std::move(**added);
}

result<std::optional<agent_key_row>> sqlite_storage::find_agent_key(const key_id& id) {
  std::lock_guard lock(impl_->mu);
  return find_key_locked(*impl_->db, id);
}

result<std::optional<agent_key_row>> sqlite_storage::find_agent(const std::string& agent_id) {
  std::lock_guard lock(impl_->mu);
  auto q = impl_->db->prepare(std::string("SELECT ") + agent_key_columns + " FROM agent_keys WHERE agent_id = ?1");
  if (!q) return q.err();
  q->bind_text(1, agent_id);
  auto row = q->step();
  if (!row) return row.err();
  if (!*row) return std::optional<agent_key_row>();
  return std::optional<agent_key_row>(read_agent_key(*q));
}

result<std::vector<agent_key_row>> sqlite_storage::list_agents() {
  std::lock_guard lock(impl_->mu);
  auto q = impl_->db->prepare(std::string("SELECT ") + agent_key_columns + " FROM agent_keys ORDER BY agent_id");
  if (!q) return q.err();
  std::vector<agent_key_row> out;
  for (;;) {
    auto row = q->step();
    if (!row) return row.err();
    if (!*row) break;
    out.push_back(read_agent_key(*q));
  }
  return out;
}

result<void> sqlite_storage::record_hello(const std::string& agent_id, std::uint64_t session_seq, bool online,
                                          protocol::byte_span hello_body, std::uint64_t now_ms) {
  std::lock_guard lock(impl_->mu);
  auto& db = *impl_->db;
  // A will (online=false) from an older session must not mark a reconnected agent offline (protocol.md).
  auto q = db.prepare(
      "UPDATE agent_keys SET online = CASE WHEN ?3 = 1 THEN 1 WHEN ?2 >= session_seq THEN 0 ELSE online END, "
      "session_seq = max(session_seq, ?2), last_hello_ms = ?4, last_hello = CASE WHEN ?2 >= session_seq THEN ?5 "
      "ELSE last_hello END WHERE agent_id = ?1");
  if (!q) return q.err();
  q->bind_text(1, agent_id).bind_u64(2, session_seq).bind(3, online ? 1 : 0).bind_u64(4, now_ms);
  q->bind_blob(5, hello_body);
  EC_SQL_TRY(q->run());
  if (db.changes() == 0) return fail(error_code::invalid_argument, "hello from unenrolled agent " + agent_id);
  return {};
}

result<std::optional<bytes>> sqlite_storage::last_hello(const std::string& agent_id) {
  std::lock_guard lock(impl_->mu);
  auto q = impl_->db->prepare("SELECT last_hello FROM agent_keys WHERE agent_id = ?1 AND last_hello IS NOT NULL");
  if (!q) return q.err();
  q->bind_text(1, agent_id);
  auto row = q->step();
  if (!row) return row.err();
  if (!*row) return std::optional<bytes>();
  return std::optional<bytes>(q->col_blob(0));
}

result<void> sqlite_storage::set_trust(const std::string& agent_id, std::uint32_t streak, bool trusted,
                                       std::uint64_t trusted_since_ms) {
  std::lock_guard lock(impl_->mu);
  const relaxed_sync relaxed(*impl_->db);  // a lost streak update only delays trust
  auto q = impl_->db->prepare(
      "UPDATE agent_keys SET trust_streak = ?2, trusted = ?3, trusted_since_ms = ?4 WHERE agent_id = ?1");
  if (!q) return q.err();
  EC_SQL_TRY(q->bind_text(1, agent_id).bind(2, streak).bind(3, trusted ? 1 : 0).bind_u64(4, trusted_since_ms).run());
  if (impl_->db->changes() == 0) return fail(error_code::invalid_argument, "no agent " + agent_id);
  return {};
}

}  // namespace ec::aggregator
