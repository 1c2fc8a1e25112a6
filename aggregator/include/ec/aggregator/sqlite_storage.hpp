// The storage interface over one SQLite file: WAL, synchronous=FULL, versioned schema with migrations.
#pragma once

#include <filesystem>
#include <memory>

#include "ec/aggregator/storage.hpp"

namespace ec::aggregator {

/// The schema version this build writes and understands; a newer database is refused at open.
inline constexpr std::uint32_t sqlite_schema_version = 3;

struct sqlite_options {
  std::filesystem::path path;
  /// How long a statement waits for another process's (edgectl's, another aggregator's) write lock.
  std::uint32_t busy_timeout_ms = 5000;
  /// Create the file when missing (edgectl opens an existing region database only).
  bool create = true;
};

/// What open() found and did.
struct sqlite_open_report {
  bool created = false;             // the file did not exist
  std::uint32_t found_version = 0;  // schema version before migrations (0: empty database)
  std::uint32_t migrations_applied = 0;
};

/// SQLite storage. One connection per object, guarded by a mutex: every call is serialised, so one object may
/// be shared by threads; several objects (or processes) on one file coordinate through SQLite's locks (write
/// transactions are BEGIN IMMEDIATE and wait up to busy_timeout_ms). Each mutating call is one transaction
/// committed with synchronous=FULL before it returns, so its effect survives a power cut; inside a begin_batch()
/// it is a savepoint of the batch's transaction instead, durable when the batch commits.
class sqlite_storage final : public storage {
 public:
  /// Opens (or creates) the database and migrates it to sqlite_schema_version in one transaction; refuses a
  /// database with a newer schema, or one that is not an edgecompute aggregator database.
  static result<std::unique_ptr<sqlite_storage>> open(const sqlite_options& options);
  ~sqlite_storage() override;
  sqlite_storage(const sqlite_storage&) = delete;
  sqlite_storage& operator=(const sqlite_storage&) = delete;

  [[nodiscard]] const sqlite_open_report& open_report() const;

  result<std::unique_ptr<storage_batch>> begin_batch() override;

  result<void> ensure_principal(const std::string& name, principal_kind kind, std::uint64_t now_ms) override;
  result<void> admit_keys(std::span<const key_admission> keys, principal_kind kind, std::uint64_t now_ms) override;
  result<void> add_token(const token_row& token) override;
  result<agent_key_row> enroll_with_token(const sha256_digest& token_hash, const key_admission& key,
                                          std::uint64_t now_ms) override;
  result<std::optional<token_row>> find_token(const sha256_digest& token_hash) override;
  result<std::optional<agent_key_row>> find_agent_key(const key_id& id) override;
  result<std::optional<agent_key_row>> find_agent(const std::string& agent_id) override;
  result<std::vector<agent_key_row>> list_agents() override;
  result<void> record_hello(const std::string& agent_id, std::uint64_t session_seq, bool online,
                            protocol::byte_span hello_body, std::uint64_t now_ms) override;
  result<std::optional<bytes>> last_hello(const std::string& agent_id) override;
  result<void> set_trust(const std::string& agent_id, std::uint32_t streak, bool trusted,
                         std::uint64_t trusted_since_ms) override;

  result<void> insert_job(const job_row& job, std::span<const work_unit_row> units) override;
  result<std::optional<job_row>> find_job(const std::string& job_id) override;
  result<void> set_job_state(const std::string& job_id, job_state state) override;
  result<std::optional<work_unit_row>> find_work_unit(const std::string& wu_id) override;
  result<void> set_replicas_wanted(const std::string& wu_id, std::uint32_t replicas) override;
  result<void> fail_work_unit(const std::string& wu_id, const std::string& reason, std::uint64_t now_ms) override;
  result<bool> reopen_work_unit(const std::string& wu_id, std::uint32_t replicas, std::uint64_t now_ms) override;
  result<bool> settle_ringer(const std::string& wu_id, bool passed, const std::string& reason,
                             std::uint64_t now_ms) override;

  result<std::vector<lease_candidate>> find_leasable(const lease_query& query) override;
  result<lease_outcome> commit_leases(const lease_commit& commit) override;
  result<std::optional<task_row>> find_task(const std::string& task_id, std::uint32_t attempt) override;
  result<std::optional<bytes>> find_batch(const std::string& agent_id, const std::string& request_id) override;
  result<std::uint64_t> prune_batches(std::uint64_t before_ms) override;
  result<std::vector<expired_task>> expire_leases(std::uint64_t now_ms) override;
  result<void> release_task(const std::string& task_id, std::uint32_t attempt) override;

  result<std::vector<store_outcome>> store_results(std::span<const result_row> results) override;
  result<std::optional<result_row>> find_result(const std::string& task_id, std::uint32_t attempt,
                                                const std::string& agent_id) override;
  result<std::vector<work_unit_result>> results_for_work_unit(const std::string& wu_id) override;

  result<std::optional<ledger_entry>> validate_work_unit(const validation_commit& commit) override;
  result<std::vector<ledger_entry>> ledger_entries(std::uint64_t from_seq, std::uint32_t limit) override;
  result<std::optional<ledger_entry>> ledger_head() override;
  result<void> insert_checkpoint(const checkpoint_row& checkpoint) override;
  result<std::vector<checkpoint_row>> checkpoints() override;
  result<std::optional<checkpoint_row>> last_checkpoint() override;
  result<std::uint64_t> highest_referenced_ledger_seq() override;
  result<void> add_credits(const credit_grant& grant, const std::string& reason, std::uint64_t now_ms) override;
  result<std::int64_t> claw_back(const std::string& agent_id, std::uint64_t since_ms, const std::string& reason,
                                 std::uint64_t now_ms) override;
  result<std::int64_t> credit_balance(const std::string& principal) override;
  result<std::vector<std::string>> unreplicated_validations(const std::string& agent_id,
                                                            std::uint64_t since_ms) override;

  result<work_unit_counts> count_work_units(const std::string& job_id) override;
  result<std::vector<agent_stats>> agent_throughput(std::uint64_t since_ms) override;
  result<std::vector<job_row>> list_jobs() override;
  result<std::vector<work_unit_row>> list_work_units(const std::string& job_id) override;
  result<std::vector<task_row>> tasks_for_work_unit(const std::string& wu_id) override;
  result<std::vector<std::string>> unsettled_work_units(std::uint32_t limit) override;
  result<std::uint64_t> count_leasable(std::uint64_t now_ms) override;
  result<std::uint64_t> request_region_control(std::uint8_t desired_state, std::uint64_t now_ms) override;
  result<std::optional<region_control_row>> latest_region_control() override;
  result<void> mark_region_control_published(std::uint64_t seq, std::uint64_t now_ms) override;

  struct impl;  // defined in src/sqlite_storage_impl.hpp

 private:
  explicit sqlite_storage(std::unique_ptr<impl> state);
  std::unique_ptr<impl> impl_;
};

}  // namespace ec::aggregator
