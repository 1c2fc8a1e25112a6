// sqlite_storage's state and the row readers shared by its source files (one file per group of operations).
#pragma once

#include <mutex>

#include "ec/aggregator/sqlite_storage.hpp"
#include "sqlite_db.hpp"

namespace ec::aggregator {

struct sqlite_storage::impl {
  std::mutex mu;  // serialises every call on the one connection
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

/// Marks a job done once none of its work units is pending or running.
result<void> settle_job(sql::database& db, const std::string& wu_id);

/// Columns read by the readers below, in this order.
inline constexpr const char* agent_key_columns =
    "key_id, agent_id, principal, public_key, enrolled_at_ms, trust_streak, trusted, trusted_since_ms, "
    "session_seq, online, last_hello_ms";
inline constexpr const char* task_columns =
    "task_id, attempt, wu_id, agent_id, principal, issued_at_ms, lease_expires_ms, blob, task_digest, state, "
    "has_ok_result";
inline constexpr const char* result_columns =
    "task_id, attempt, agent_id, blob, result_digest, output_digest, status, received_at_ms, redelivery_count";
inline constexpr const char* ledger_columns =
    "seq, prev_hash, entry_hash, wu_id, canonical_digest, principals, time_ms";

agent_key_row read_agent_key(const sql::query& q);
task_row read_task(const sql::query& q);
result_row read_result(const sql::query& q, int first = 0);
/// Fixed-size columns of another size are read as zeros; verify_ledger then reports the entry.
ledger_entry read_ledger_entry(const sql::query& q);

/// Principals joined with '\n' (names cannot contain it) and split again.
std::string join_principals(const std::vector<std::string>& names);
std::vector<std::string> split_principals(const std::string& text);

}  // namespace sqlite_detail
}  // namespace ec::aggregator
