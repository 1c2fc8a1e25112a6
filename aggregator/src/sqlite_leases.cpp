// Leases on SQLite: finding replica slots for an agent, recording a TaskBatch, expiry and release.
//
// A work unit has replica slots (task ids "<wu_id>#<n>"); each slot's attempts are rows of `tasks`, the newest
// marked latest = 1. A slot is live while its latest attempt is leased or returned; a freed or expired slot is
// offered again with attempt + 1. work_units.live_replicas counts live slots, so finding work is one query.
#include "sqlite_storage_impl.hpp"

namespace ec::aggregator {
namespace {

using namespace sqlite_detail;

// A principal may not take a work unit on which it holds a live lease or an Ok result (protocol.md: quorum
// counts principals, so replicas never go to one principal). An expired attempt without a result does not
// block it: another agent of that principal may take the slot.
constexpr const char* principal_blocked =
    "EXISTS (SELECT 1 FROM tasks t WHERE t.wu_id = w.wu_id AND t.principal = ?1 AND (t.state IN ('leased', "
    "'returned') OR t.has_ok_result = 1))";

// An agent that answered a unit Rejected or Unsupported (ec.wire.ResultStatus 3, 4) refused that very code and
// those sizes: it would refuse them again, so it is not offered the unit again (without this, the freed slot came
// back to it at once, attempt after attempt, until the unit failed at max_replicas without a capable agent's turn).
constexpr const char* agent_refused =
    "EXISTS (SELECT 1 FROM tasks rt JOIN results rr ON rr.task_id = rt.task_id AND rr.attempt = rt.attempt WHERE "
    "rt.wu_id = w.wu_id AND rt.agent_id = ?5 AND rr.status IN (3, 4))";

}  // namespace

result<std::vector<lease_candidate>> sqlite_storage::find_leasable(const lease_query& query) {
  std::vector<lease_candidate> out;
  if (query.kernels.empty() || query.max_tasks == 0) return out;
  // One fixed statement (prepared once): the kernel set is bound as "\n"-delimited text, so an agent's list
  // of kernels never grows the statement cache.
  std::string kernels = "\n";
  for (const auto& k : query.kernels) kernels += k + "\n";
  std::string text =
      "SELECT w.wu_id, w.job_id, j.kernel, w.payload, w.cost, w.slots FROM work_units w JOIN jobs j ON j.job_id = "
      "w.job_id WHERE w.state IN ('pending', 'running') AND w.live_replicas < w.replicas_wanted AND j.state = "
      "'active' AND (j.deadline_ms = 0 OR j.deadline_ms > ?2) AND instr(?4, char(10) || j.kernel || char(10)) > 0 "
      "AND NOT ";
  text += principal_blocked;
  text += " AND NOT ";
  text += agent_refused;
  text += " ORDER BY w.rowid LIMIT ?3";

  std::lock_guard lock(impl_->mu);
  auto& db = *impl_->db;
  {
    auto q = db.prepare(text);
    if (!q) return q.err();
    q->bind_text(1, query.principal).bind_u64(2, query.now_ms).bind(3, query.max_tasks).bind_text(4, kernels);
    q->bind_text(5, query.agent_id);
    for (;;) {
      auto row = q->step();
      if (!row) return row.err();
      if (!*row) break;
      lease_candidate c;
      c.wu_id = q->col_text(0);
      c.job_id = q->col_text(1);
      c.kernel = q->col_text(2);
      c.payload = q->col_blob(3);
      c.cost = q->col_u64(4);
      c.task_id = c.wu_id + "#" + std::to_string(q->col_u64(5));  // a new slot, unless a dead one is reused
      out.push_back(std::move(c));
    }
  }
  auto dead = db.prepare(
      "SELECT task_id, attempt FROM tasks WHERE wu_id = ?1 AND latest = 1 AND state IN ('freed', 'expired') ORDER "
      "BY task_id LIMIT 1");
  if (!dead) return dead.err();
  for (auto& c : out) {
    dead->bind_text(1, c.wu_id);
    auto row = dead->step();
    if (!row) return row.err();
    if (*row) {
      c.task_id = dead->col_text(0);
      c.attempt = dead->col_u32(1) + 1;
    }
    dead->reset();
  }
  return out;
}

result<lease_outcome> sqlite_storage::commit_leases(const lease_commit& commit) {
  std::lock_guard lock(impl_->mu);
  auto& db = *impl_->db;
  auto tx = sql::transaction::begin(db);
  if (!tx) return tx.err();
  auto conflict = [](std::string why) { return lease_outcome{false, std::move(why)}; };

  std::string principal;
  {
    auto q = db.prepare("SELECT principal FROM agent_keys WHERE agent_id = ?1");
    if (!q) return q.err();
    q->bind_text(1, commit.agent_id);
    auto row = q->step();
    if (!row) return row.err();
    if (!*row) return fail(error_code::invalid_argument, "lease for unenrolled agent " + commit.agent_id);
    principal = q->col_text(0);
  }
  {
    auto q = db.prepare("SELECT 1 FROM stored_batches WHERE agent_id = ?1 AND request_id = ?2");
    if (!q) return q.err();
    q->bind_text(1, commit.agent_id).bind_text(2, commit.request_id);
    auto row = q->step();
    if (!row) return row.err();
    if (*row) return conflict("request " + commit.request_id + " of " + commit.agent_id + " was already answered");
  }
  EC_SQL_TRY(insert_ringers(db, commit.ringers, commit.now_ms));
  for (const auto& t : commit.tasks) {
    if (t.agent_id != commit.agent_id)
      return fail(error_code::invalid_argument,
                  "task " + t.task_id + " is addressed to " + t.agent_id + ", not " + commit.agent_id);
    if (t.attempt == 0) return fail(error_code::invalid_argument, "task " + t.task_id + ": attempt 0");
    const std::string slot = t.task_id + " attempt " + std::to_string(t.attempt);
    bool never_issued = false;
    {
      auto q = db.prepare(
          "SELECT w.state, w.live_replicas, w.replicas_wanted, j.state, j.deadline_ms, w.ringer_answer IS NOT NULL, "
          "w.slots FROM work_units w JOIN jobs j ON j.job_id = w.job_id WHERE w.wu_id = ?1");
      if (!q) return q.err();
      q->bind_text(1, t.wu_id);
      auto row = q->step();
      if (!row) return row.err();
      if (!*row) return conflict(slot + ": no work unit " + t.wu_id);
      const auto wu_state = q->col_text(0);
      if (wu_state != "pending" && wu_state != "running") return conflict(slot + ": work unit is " + wu_state);
      if (q->col_u64(1) >= q->col_u64(2)) return conflict(slot + ": work unit has all the replicas it wants");
      // Ringer units belong to the paused ringer job, so that only the batch they were made for leases them.
      const bool ringer = q->col_int(5) != 0;
      if (q->col_text(3) != "active" && !ringer) return conflict(slot + ": job is " + q->col_text(3));
      never_issued = q->col_u64(6) == 0 && q->col_u64(1) == 0;
      const auto deadline = q->col_u64(4);
      if (deadline != 0 && deadline <= commit.now_ms) return conflict(slot + ": job is past its deadline");
    }
    {
      auto q = db.prepare(
          "SELECT 1 FROM tasks t WHERE t.wu_id = ?2 AND t.principal = ?1 AND (t.state IN ('leased', 'returned') OR "
          "t.has_ok_result = 1) LIMIT 1");
      if (!q) return q.err();
      q->bind_text(1, principal).bind_text(2, t.wu_id);
      auto row = q->step();
      if (!row) return row.err();
      if (*row) return conflict(slot + ": principal " + principal + " already holds a replica of " + t.wu_id);
    }
    if (t.attempt == 1) {
      auto q = db.prepare("SELECT 1 FROM tasks WHERE task_id = ?1 LIMIT 1");
      if (!q) return q.err();
      q->bind_text(1, t.task_id);
      auto row = q->step();
      if (!row) return row.err();
      if (*row) return conflict(slot + ": the slot was taken");
      q->reset();
      auto slots = db.prepare("UPDATE work_units SET slots = slots + 1 WHERE wu_id = ?1");
      if (!slots) return slots.err();
      EC_SQL_TRY(slots->bind_text(1, t.wu_id).run());
    } else {
      auto q = db.prepare(
          "UPDATE tasks SET latest = 0 WHERE task_id = ?1 AND attempt = ?2 AND wu_id = ?3 AND latest = 1 AND state "
          "IN ('freed', 'expired')");
      if (!q) return q.err();
      EC_SQL_TRY(q->bind_text(1, t.task_id).bind(2, t.attempt - 1).bind_text(3, t.wu_id).run());
      if (db.changes() != 1) return conflict(slot + ": the previous attempt is not free");
    }
    auto ins = db.prepare(
        "INSERT INTO tasks (task_id, attempt, wu_id, agent_id, principal, issued_at_ms, lease_expires_ms, blob, "
        "task_digest, state, latest, has_ok_result) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'leased', 1, 0)");
    if (!ins) return ins.err();
    ins->bind_text(1, t.task_id).bind(2, t.attempt).bind_text(3, t.wu_id).bind_text(4, t.agent_id);
    ins->bind_text(5, principal).bind_u64(6, t.issued_at_ms).bind_u64(7, t.lease_expires_ms).bind_blob(8, t.blob);
    ins->bind_blob(9, t.task_digest);
    if (auto r = ins->run(); !r) {
      if (r.code() == error_code::invalid_argument) return conflict(slot + ": " + r.err().message);
      return r.err();
    }
    EC_SQL_TRY(adjust_live(db, t.wu_id, +1));
    // Adaptive trust: a trusted key's unit is accepted on its lone result, but only on first issue (a unit that
    // already had replicas, or was re-opened, is validated by quorum).
    if (t.single && never_issued) {
      auto single = db.prepare("UPDATE work_units SET replicas_wanted = 1, single_agent = ?2 WHERE wu_id = ?1");
      if (!single) return single.err();
      EC_SQL_TRY(single->bind_text(1, t.wu_id).bind_text(2, t.agent_id).run());
    }
  }
  auto q =
      db.prepare("INSERT INTO stored_batches (agent_id, request_id, batch, created_at_ms) VALUES (?1, ?2, ?3, ?4)");
  if (!q) return q.err();
  q->bind_text(1, commit.agent_id).bind_text(2, commit.request_id).bind_blob(3, commit.batch_bytes);
  EC_SQL_TRY(q->bind_u64(4, commit.now_ms).run());
  EC_SQL_TRY(tx->commit());
  return lease_outcome{true, {}};
}

result<std::optional<task_row>> sqlite_storage::find_task(const std::string& task_id, std::uint32_t attempt) {
  std::lock_guard lock(impl_->mu);
  auto q =
      impl_->db->prepare(std::string("SELECT ") + task_columns + " FROM tasks WHERE task_id = ?1 AND attempt = ?2");
  if (!q) return q.err();
  q->bind_text(1, task_id).bind(2, attempt);
  auto row = q->step();
  if (!row) return row.err();
  if (!*row) return std::optional<task_row>();
  return std::optional<task_row>(read_task(*q));
}

result<std::optional<bytes>> sqlite_storage::find_batch(const std::string& agent_id, const std::string& request_id) {
  std::lock_guard lock(impl_->mu);
  auto q = impl_->db->prepare("SELECT batch FROM stored_batches WHERE agent_id = ?1 AND request_id = ?2");
  if (!q) return q.err();
  q->bind_text(1, agent_id).bind_text(2, request_id);
  auto row = q->step();
  if (!row) return row.err();
  if (!*row) return std::optional<bytes>();
  return std::optional<bytes>(q->col_blob(0));
}

result<std::uint64_t> sqlite_storage::prune_batches(std::uint64_t before_ms) {
  std::lock_guard lock(impl_->mu);
  auto q = impl_->db->prepare("DELETE FROM stored_batches WHERE created_at_ms < ?1");
  if (!q) return q.err();
  EC_SQL_TRY(q->bind_u64(1, before_ms).run());
  return static_cast<std::uint64_t>(impl_->db->changes());
}

result<std::vector<expired_task>> sqlite_storage::expire_leases(std::uint64_t now_ms) {
  std::lock_guard lock(impl_->mu);
  auto& db = *impl_->db;
  auto tx = sql::transaction::begin(db);
  if (!tx) return tx.err();
  std::vector<expired_task> out;
  {
    auto q = db.prepare(
        "SELECT task_id, attempt, wu_id, agent_id FROM tasks WHERE state = 'leased' AND lease_expires_ms <= ?1 ORDER "
        "BY lease_expires_ms");
    if (!q) return q.err();
    q->bind_u64(1, now_ms);
    for (;;) {
      auto row = q->step();
      if (!row) return row.err();
      if (!*row) break;
      out.push_back({q->col_text(0), q->col_u32(1), q->col_text(2), q->col_text(3)});
    }
  }
  auto q = db.prepare("UPDATE tasks SET state = 'expired' WHERE task_id = ?1 AND attempt = ?2");
  if (!q) return q.err();
  for (const auto& e : out) {
    EC_SQL_TRY(q->bind_text(1, e.task_id).bind(2, e.attempt).run());
    q->reset();
    EC_SQL_TRY(adjust_live(db, e.wu_id, -1));
  }
  EC_SQL_TRY(tx->commit());
  return out;
}

result<void> sqlite_storage::release_task(const std::string& task_id, std::uint32_t attempt) {
  std::lock_guard lock(impl_->mu);
  auto& db = *impl_->db;
  auto tx = sql::transaction::begin(db);
  if (!tx) return tx.err();
  auto q = db.prepare(
      "UPDATE tasks SET state = 'freed' WHERE task_id = ?1 AND attempt = ?2 AND state = 'leased' RETURNING wu_id");
  if (!q) return q.err();
  q->bind_text(1, task_id).bind(2, attempt);
  auto row = q->step();
  if (!row) return row.err();
  if (!*row) return {};  // not leased (already returned, freed or expired): nothing to do
  const std::string wu_id = q->col_text(0);
  EC_SQL_TRY(q->run());
  q->reset();
  EC_SQL_TRY(adjust_live(db, wu_id, -1));
  return tx->commit();
}

}  // namespace ec::aggregator
