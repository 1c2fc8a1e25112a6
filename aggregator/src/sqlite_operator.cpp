// Listings for the operator and the service loop on SQLite: jobs, work units, a unit's tasks, units to resume
// validating, the leasable count, and region-wide Control requests.
#include "sqlite_storage_impl.hpp"

namespace ec::aggregator {
namespace {

using namespace sqlite_detail;

region_control_row read_control(const sql::query& q) {
  region_control_row r;
  r.seq = q.col_u64(0);
  r.desired_state = static_cast<std::uint8_t>(q.col_u32(1));
  r.requested_at_ms = q.col_u64(2);
  r.published_at_ms = q.col_u64(3);
  return r;
}

}  // namespace

result<std::vector<job_row>> sqlite_storage::list_jobs() {
  std::lock_guard lock(impl_->mu);
  auto q = impl_->db->prepare(std::string("SELECT ") + job_columns + " FROM jobs ORDER BY created_at_ms, rowid");
  if (!q) return q.err();
  std::vector<job_row> out;
  for (;;) {
    auto row = q->step();
    if (!row) return row.err();
    if (!*row) break;
    out.push_back(read_job(*q));
  }
  return out;
}

result<std::vector<work_unit_row>> sqlite_storage::list_work_units(const std::string& job_id) {
  std::lock_guard lock(impl_->mu);
  auto q = impl_->db->prepare(std::string(work_unit_columns) + " FROM work_units WHERE job_id = ?1 ORDER BY rowid");
  if (!q) return q.err();
  q->bind_text(1, job_id);
  std::vector<work_unit_row> out;
  for (;;) {
    auto row = q->step();
    if (!row) return row.err();
    if (!*row) break;
    out.push_back(read_work_unit(*q));
  }
  return out;
}

result<std::vector<task_row>> sqlite_storage::tasks_for_work_unit(const std::string& wu_id) {
  std::lock_guard lock(impl_->mu);
  // The blob column is read as an empty literal: callers want states and holders, not megabytes of inputs.
  auto q = impl_->db->prepare(
      "SELECT task_id, attempt, wu_id, agent_id, principal, issued_at_ms, lease_expires_ms, x'', task_digest, state, "
      "has_ok_result FROM tasks WHERE wu_id = ?1 ORDER BY task_id, attempt");
  if (!q) return q.err();
  q->bind_text(1, wu_id);
  std::vector<task_row> out;
  for (;;) {
    auto row = q->step();
    if (!row) return row.err();
    if (!*row) break;
    out.push_back(read_task(*q));
  }
  return out;
}

result<std::vector<std::string>> sqlite_storage::unsettled_work_units(std::uint32_t limit) {
  std::lock_guard lock(impl_->mu);
  auto q = impl_->db->prepare(
      "SELECT w.wu_id FROM work_units w WHERE w.state IN ('pending', 'running') AND EXISTS (SELECT 1 FROM tasks t JOIN "
      "results r ON r.task_id = t.task_id AND r.attempt = t.attempt WHERE t.wu_id = w.wu_id) ORDER BY w.rowid LIMIT "
      "?1");
  if (!q) return q.err();
  q->bind(1, limit);
  std::vector<std::string> out;
  for (;;) {
    auto row = q->step();
    if (!row) return row.err();
    if (!*row) break;
    out.push_back(q->col_text(0));
  }
  return out;
}

result<std::uint64_t> sqlite_storage::count_leasable(std::uint64_t now_ms) {
  std::lock_guard lock(impl_->mu);
  auto q = impl_->db->prepare(
      "SELECT count(*) FROM work_units w JOIN jobs j ON j.job_id = w.job_id WHERE w.state IN ('pending', 'running') "
      "AND w.live_replicas < w.replicas_wanted AND j.state = 'active' AND (j.deadline_ms = 0 OR j.deadline_ms > ?1)");
  if (!q) return q.err();
  q->bind_u64(1, now_ms);
  auto row = q->step();
  if (!row) return row.err();
  const std::uint64_t n = *row ? q->col_u64(0) : 0;
  if (*row) EC_SQL_TRY(q->run());
  return n;
}

result<std::uint64_t> sqlite_storage::request_region_control(std::uint8_t desired_state, std::uint64_t now_ms) {
  if (desired_state > 2) return fail(error_code::invalid_argument, "desired state must be 0, 1 or 2");
  std::lock_guard lock(impl_->mu);
  auto& db = *impl_->db;
  auto tx = sql::transaction::begin(db);
  if (!tx) return tx.err();
  auto q = db.prepare("INSERT INTO region_controls (desired_state, requested_at_ms) VALUES (?1, ?2) RETURNING seq");
  if (!q) return q.err();
  q->bind(1, desired_state).bind_u64(2, now_ms);
  auto row = q->step();
  if (!row) return row.err();
  if (!*row) return fail(error_code::io_error, "sqlite: region control insert returned no row");
  const std::uint64_t seq = q->col_u64(0);
  EC_SQL_TRY(q->run());
  EC_SQL_TRY(tx->commit());
  return seq;
}

result<std::optional<region_control_row>> sqlite_storage::latest_region_control() {
  std::lock_guard lock(impl_->mu);
  auto q = impl_->db->prepare(
      "SELECT seq, desired_state, requested_at_ms, published_at_ms FROM region_controls ORDER BY seq DESC LIMIT 1");
  if (!q) return q.err();
  auto row = q->step();
  if (!row) return row.err();
  if (!*row) return std::optional<region_control_row>();
  auto r = read_control(*q);
  EC_SQL_TRY(q->run());
  return std::optional<region_control_row>(r);
}

result<void> sqlite_storage::mark_region_control_published(std::uint64_t seq, std::uint64_t now_ms) {
  std::lock_guard lock(impl_->mu);
  auto q = impl_->db->prepare("UPDATE region_controls SET published_at_ms = ?2 WHERE seq = ?1 AND published_at_ms = 0");
  if (!q) return q.err();
  return q->bind_u64(1, seq).bind_u64(2, now_ms).run();
}

}  // namespace ec::aggregator
