// Results on SQLite: idempotent storage of a ResultBatch in one durable transaction, lookups, status queries.
#include "sqlite_storage_impl.hpp"

namespace ec::aggregator {
namespace {

using namespace sqlite_detail;

constexpr std::uint8_t status_ok = 0;  // ec.wire.ResultStatus.Ok

// Moves the task of a newly stored result: an Ok result returns the slot (or revives an expired slot that was
// not reassigned yet, since a late valid result still counts); any other status frees a leased slot at once.
result<void> apply_result_to_task(sql::database& db, const result_row& r, const std::string& wu_id,
                                  const std::string& state, bool latest) {
  const bool ok = r.status == status_ok;
  std::string next = state;
  int live_delta = 0;
  if (state == "leased") {
    next = ok ? "returned" : "freed";
    live_delta = ok ? 0 : -1;
  } else if (ok && latest && (state == "expired" || state == "freed")) {
    next = "returned";
    live_delta = +1;
  }
  auto q = db.prepare(
      "UPDATE tasks SET state = ?3, has_ok_result = max(has_ok_result, ?4) WHERE task_id = ?1 AND attempt = ?2");
  if (!q) return q.err();
  EC_SQL_TRY(q->bind_text(1, r.task_id).bind(2, r.attempt).bind_text(3, next).bind(4, ok ? 1 : 0).run());
  if (live_delta != 0) EC_SQL_TRY(adjust_live(db, wu_id, live_delta));
  return {};
}

}  // namespace

result<std::vector<store_outcome>> sqlite_storage::store_results(std::span<const result_row> results) {
  std::lock_guard lock(impl_->mu);
  auto& db = *impl_->db;
  auto tx = sql::transaction::begin(db);
  if (!tx) return tx.err();
  std::vector<store_outcome> out;
  out.reserve(results.size());
  for (const auto& r : results) {
    std::string wu_id;
    std::string state;
    bool latest = false;
    {
      auto q = db.prepare("SELECT wu_id, agent_id, state, latest FROM tasks WHERE task_id = ?1 AND attempt = ?2");
      if (!q) return q.err();
      q->bind_text(1, r.task_id).bind(2, r.attempt);
      auto row = q->step();
      if (!row) return row.err();
      const std::string slot = r.task_id + " attempt " + std::to_string(r.attempt);
      if (!*row) return fail(error_code::invalid_argument, "result for unknown task " + slot);
      if (q->col_text(1) != r.agent_id)
        return fail(error_code::invalid_argument,
                    "result for " + slot + " from " + r.agent_id + ", leased to " + q->col_text(1));
      wu_id = q->col_text(0);
      state = q->col_text(2);
      latest = q->col_int(3) != 0;
    }
    auto q = db.prepare(
        "INSERT INTO results (task_id, attempt, agent_id, blob, result_digest, output_digest, status, received_at_ms, "
        "redelivery_count) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0) ON CONFLICT (task_id, attempt, agent_id) DO "
        "UPDATE SET redelivery_count = redelivery_count + 1 RETURNING redelivery_count, result_digest");
    if (!q) return q.err();
    q->bind_text(1, r.task_id).bind(2, r.attempt).bind_text(3, r.agent_id).bind_blob(4, r.blob);
    q->bind_blob(5, r.result_digest).bind_blob(6, r.output_digest).bind(7, r.status).bind_u64(8, r.received_at_ms);
    auto row = q->step();
    if (!row) return row.err();
    if (!*row) return fail(error_code::io_error, "sqlite: result upsert returned no row");
    store_outcome o;
    o.redelivery_count = q->col_u32(0);
    o.inserted = o.redelivery_count == 0;
    (void)q->col_array(1, o.stored_result_digest);
    EC_SQL_TRY(q->run());  // finish the statement before the next one writes
    if (o.inserted) EC_SQL_TRY(apply_result_to_task(db, r, wu_id, state, latest));
    out.push_back(o);
  }
  EC_SQL_TRY(tx->commit());
  return out;
}

result<std::optional<result_row>> sqlite_storage::find_result(const std::string& task_id, std::uint32_t attempt,
                                                              const std::string& agent_id) {
  std::lock_guard lock(impl_->mu);
  auto q = impl_->db->prepare(std::string("SELECT ") + result_columns +
                              " FROM results WHERE task_id = ?1 AND attempt = ?2 AND agent_id = ?3");
  if (!q) return q.err();
  q->bind_text(1, task_id).bind(2, attempt).bind_text(3, agent_id);
  auto row = q->step();
  if (!row) return row.err();
  if (!*row) return std::optional<result_row>();
  return std::optional<result_row>(read_result(*q));
}

result<std::vector<work_unit_result>> sqlite_storage::results_for_work_unit(const std::string& wu_id) {
  std::lock_guard lock(impl_->mu);
  auto q = impl_->db->prepare(
      "SELECT r.task_id, r.attempt, r.agent_id, r.blob, r.result_digest, r.output_digest, r.status, r.received_at_ms, "
      "r.redelivery_count, t.wu_id, t.principal FROM results r JOIN tasks t ON t.task_id = r.task_id AND t.attempt = "
      "r.attempt WHERE t.wu_id = ?1 ORDER BY r.rowid");
  if (!q) return q.err();
  q->bind_text(1, wu_id);
  std::vector<work_unit_result> out;
  for (;;) {
    auto row = q->step();
    if (!row) return row.err();
    if (!*row) break;
    out.push_back({read_result(*q), q->col_text(9), q->col_text(10)});
  }
  return out;
}

result<work_unit_counts> sqlite_storage::count_work_units(const std::string& job_id) {
  std::lock_guard lock(impl_->mu);
  // All jobs means the operator's jobs: ringer units (the internal ringer job) are not counted there.
  auto q = impl_->db->prepare(
      "SELECT state, count(*) FROM work_units WHERE (?1 = '' AND job_id != ?2) OR job_id = ?1 GROUP BY state");
  if (!q) return q.err();
  q->bind_text(1, job_id).bind_text(2, ringer_job_id);
  work_unit_counts c;
  for (;;) {
    auto row = q->step();
    if (!row) return row.err();
    if (!*row) break;
    const auto n = q->col_u64(1);
    switch (parse_work_unit_state(q->col_text(0)).value_or(work_unit_state::failed)) {
      case work_unit_state::pending:
        c.pending = n;
        break;
      case work_unit_state::running:
        c.running = n;
        break;
      case work_unit_state::validated:
        c.validated = n;
        break;
      case work_unit_state::failed:
        c.failed += n;
        break;
    }
  }
  return c;
}

result<std::vector<agent_stats>> sqlite_storage::agent_throughput(std::uint64_t since_ms) {
  std::lock_guard lock(impl_->mu);
  auto q = impl_->db->prepare(
      "SELECT a.agent_id, a.principal, a.trust_streak, a.trusted, a.online, (SELECT count(*) FROM results r WHERE "
      "r.agent_id = a.agent_id AND r.received_at_ms >= ?1), (SELECT count(*) FROM results r WHERE r.agent_id = "
      "a.agent_id AND r.received_at_ms >= ?1 AND r.status = 0), (SELECT coalesce(max(received_at_ms), 0) FROM results "
      "r WHERE r.agent_id = a.agent_id) FROM agent_keys a ORDER BY a.agent_id");
  if (!q) return q.err();
  q->bind_u64(1, since_ms);
  std::vector<agent_stats> out;
  for (;;) {
    auto row = q->step();
    if (!row) return row.err();
    if (!*row) break;
    agent_stats s;
    s.agent_id = q->col_text(0);
    s.principal = q->col_text(1);
    s.trust_streak = q->col_u32(2);
    s.trusted = q->col_int(3) != 0;
    s.online = q->col_int(4) != 0;
    s.results_since = q->col_u64(5);
    s.ok_results_since = q->col_u64(6);
    s.last_result_ms = q->col_u64(7);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace ec::aggregator
