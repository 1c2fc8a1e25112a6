// sqlite_storage's state and the row readers shared by its source files (one file per group of operations).
#pragma once

#include <mutex>

#include "ec/aggregator/sqlite_storage.hpp"
#include "sqlite_db.hpp"

namespace ec::aggregator {

struct sqlite_storage::impl {
  // Serialises every call on the one connection; recursive, because a storage_batch holds it from begin_batch()
  // to its end while the same thread makes its calls.
  std::recursive_mutex mu;
  std::unique_ptr<sql::database> db;
  sqlite_open_report report;
};

namespace sqlite_detail {

/// Enums are stored as their to_string() words (CHECK constraints in the schema list the same words).
std::optional<job_state> parse_job_state(std::string_view s) noexcept;
std::optional<work_unit_state> parse_work_unit_state(std::string_view s) noexcept;
std::optional<task_state> parse_task_state(std::string_view s) noexcept;
std::optional<principal_kind> parse_principal_kind(std::string_view s) noexcept;

/// Adds `delta` to a work unit's live replicas and moves it between pending and running (final states stay).
result<void> adjust_live(sql::database& db, const std::string& wu_id, int delta);

/// Commits without an fsync of their own (PRAGMA synchronous=NORMAL, restored to FULL when it goes out of scope) for
/// decisions that are re-derived from durable results after a crash: validation, trust streaks, replicas wanted.
/// WAL keeps commits in order, so a power loss can only drop a suffix of such decisions (start() decides those
/// units again), and the next synchronous commit (a ResultBatch, before its Receipt) makes them durable too. One
/// fsync per ResultBatch instead of one per validated unit (docs/performance.md, "Aggregator (issue 5)").
/// Inside a storage_batch it does nothing: the batch's own synchronous commit covers the decision.
class relaxed_sync {
 public:
  explicit relaxed_sync(sql::database& db) : db_(db), active_(!sql::in_transaction(db)) {
    if (active_) (void)db_.exec("PRAGMA synchronous=NORMAL", "relaxed sync");
  }
  ~relaxed_sync() {
    if (active_) (void)db_.exec("PRAGMA synchronous=FULL", "full sync");
  }
  relaxed_sync(const relaxed_sync&) = delete;
  relaxed_sync& operator=(const relaxed_sync&) = delete;

 private:
  sql::database& db_;
  bool active_;
};

/// Inserts ringer work units (and the paused ringer job on first use) inside the caller's transaction.
result<void> insert_ringers(sql::database& db, std::span<const work_unit_row> ringers, std::uint64_t now_ms);

/// Marks a job done once none of its work units is pending or running.
result<void> settle_job(sql::database& db, const std::string& wu_id);

/// Columns read by the readers below, in this order.
inline constexpr const char* agent_key_columns =
    "key_id, agent_id, principal, public_key, enrolled_at_ms, trust_streak, trusted, trusted_since_ms, "
    "session_seq, online, last_hello_ms";
inline constexpr const char* work_unit_columns =
    "SELECT wu_id, job_id, payload, state, replicas_wanted, live_replicas, cost, canonical_digest, final_at_ms, "
    "ledger_seq, fail_reason, single_agent, ringer_answer";
inline constexpr const char* task_columns =
    "task_id, attempt, wu_id, agent_id, principal, issued_at_ms, lease_expires_ms, blob, task_digest, state, "
    "has_ok_result";
inline constexpr const char* result_columns =
    "task_id, attempt, agent_id, blob, result_digest, output_digest, status, received_at_ms, redelivery_count";
inline constexpr const char* job_columns = "job_id, kernel, spec, quorum, deadline_ms, state, created_at_ms";
inline constexpr const char* ledger_columns =
    "seq, prev_hash, entry_hash, wu_id, canonical_digest, principals, time_ms";

agent_key_row read_agent_key(const sql::query& q);
/// Reads the columns of job_columns.
job_row read_job(const sql::query& q);
/// Reads the columns of work_unit_columns.
work_unit_row read_work_unit(const sql::query& q);
task_row read_task(const sql::query& q);
result_row read_result(const sql::query& q, int first = 0);
/// Fixed-size columns of another size are read as zeros; verify_ledger then reports the entry.
ledger_entry read_ledger_entry(const sql::query& q);

/// Principals joined with '\n' (names cannot contain it) and split again.
std::string join_principals(const std::vector<std::string>& names);
std::vector<std::string> split_principals(const std::string& text);

}  // namespace sqlite_detail
}  // namespace ec::aggregator
