// Adaptive replication on SQLite: ringer units, re-opening a unit a caught key validated alone, settling ringers.
#include "sqlite_storage_impl.hpp"

namespace ec::aggregator {

namespace sqlite_detail {

result<void> insert_ringers(sql::database& db, std::span<const work_unit_row> ringers, std::uint64_t now_ms) {
  if (ringers.empty()) return {};
  // The ringer job stays paused: find_leasable never offers its units, commit_leases accepts them by name.
  auto job = db.prepare(
      "INSERT OR IGNORE INTO jobs (job_id, kernel, spec, quorum, deadline_ms, state, created_at_ms) VALUES (?1, "
      "'ringer', '', 1, 0, 'paused', ?2)");
  if (!job) return job.err();
  EC_SQL_TRY(job->bind_text(1, ringer_job_id).bind_u64(2, now_ms).run());
  auto q = db.prepare(
      "INSERT INTO work_units (wu_id, job_id, payload, state, replicas_wanted, cost, ringer_answer) VALUES (?1, ?2, "
      "?3, 'pending', 1, 0, ?4)");
  if (!q) return q.err();
  for (const auto& r : ringers) {
    if (r.ringer_answer.empty())
      return fail(error_code::invalid_argument, "ringer unit " + r.wu_id + " has no expected answer");
    q->bind_text(1, r.wu_id).bind_text(2, ringer_job_id).bind_blob(3, r.payload).bind_blob(4, r.ringer_answer);
    if (auto res = q->run(); !res) return fail(res.code(), "ringer unit " + r.wu_id + ": " + res.err().message);
    q->reset();
  }
  return {};
}

}  // namespace sqlite_detail

using namespace sqlite_detail;

result<bool> sqlite_storage::reopen_work_unit(const std::string& wu_id, std::uint32_t replicas, std::uint64_t now_ms) {
  (void)now_ms;
  std::lock_guard lock(impl_->mu);
  auto& db = *impl_->db;
  auto tx = sql::transaction::begin(db);
  if (!tx) return tx.err();
  // The ledger keeps the earlier entry (it is append-only); the next validation appends a new one and
  // work_units.ledger_seq points to it.
  auto q = db.prepare(
      "UPDATE work_units SET state = CASE WHEN live_replicas > 0 THEN 'running' ELSE 'pending' END, canonical_digest "
      "= NULL, final_at_ms = 0, single_agent = '', replicas_wanted = max(?2, live_replicas + 1) WHERE wu_id = ?1 AND "
      "state IN ('pending', 'running', 'validated') AND ringer_answer IS NULL");
  if (!q) return q.err();
  EC_SQL_TRY(q->bind_text(1, wu_id).bind(2, std::max<std::uint32_t>(replicas, 1)).run());
  if (db.changes() == 0) return false;
  auto job = db.prepare(
      "UPDATE jobs SET state = 'active' WHERE state = 'done' AND job_id = (SELECT job_id FROM work_units WHERE wu_id = "
      "?1)");
  if (!job) return job.err();
  EC_SQL_TRY(job->bind_text(1, wu_id).run());
  EC_SQL_TRY(tx->commit());
  return true;
}

result<bool> sqlite_storage::settle_ringer(const std::string& wu_id, bool passed, const std::string& reason,
                                           std::uint64_t now_ms) {
  std::lock_guard lock(impl_->mu);
  auto q = impl_->db->prepare(
      "UPDATE work_units SET state = ?2, fail_reason = ?3, final_at_ms = ?4 WHERE wu_id = ?1 AND state IN "
      "('pending', 'running') AND ringer_answer IS NOT NULL");
  if (!q) return q.err();
  q->bind_text(1, wu_id).bind_text(2, passed ? "validated" : "failed").bind_text(3, passed ? "" : reason);
  EC_SQL_TRY(q->bind_u64(4, now_ms).run());
  return impl_->db->changes() == 1;
}

}  // namespace ec::aggregator
