// The aggregator's durable state behind one interface: jobs, leases, results, enrollment, ledger and credits.
//
// SQLite implements it today (sqlite_storage.hpp); a PostgreSQL implementation will share it. Every mutating call
// is one transaction, committed durably before it returns: the caller may send a Receipt as soon as
// store_results() returns (architecture.md, "Durability rules").
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ec/protocol/bytes.hpp"
#include "ec/protocol/error.hpp"

namespace ec::aggregator {

using protocol::bytes;
using protocol::key_id;
using protocol::raw_signature;
using protocol::sha256_digest;

/// How a principal's keys were admitted (protocol.md, "Enrollment").
enum class principal_kind : std::uint8_t { allowlist, token, open };
/// A job is active (its work units are leased), paused (nothing new is leased), done or cancelled.
enum class job_state : std::uint8_t { active, paused, done, cancelled };
/// pending: needs replicas and none is leased; running: some replica is leased or returned; validated and
/// failed are final.
enum class work_unit_state : std::uint8_t { pending, running, validated, failed };
/// One attempt of one replica slot: leased to an agent, returned (an Ok result is stored), freed (released
/// without a usable result: a non-Ok status or the core's decision) or expired (its lease ran out).
enum class task_state : std::uint8_t { leased, returned, freed, expired };

std::string_view to_string(principal_kind k) noexcept;
std::string_view to_string(job_state s) noexcept;
std::string_view to_string(work_unit_state s) noexcept;
std::string_view to_string(task_state s) noexcept;

/// A principal name: 1..64 characters of [A-Za-z0-9._@:-] (they are joined with '\n' in ledger rows).
bool is_valid_principal_name(std::string_view name) noexcept;

struct principal_row {
  std::string name;
  principal_kind kind = principal_kind::allowlist;
  std::uint64_t created_at_ms = 0;
};

/// An enrolled agent key with its trust and last hello.
struct agent_key_row {
  key_id id{};
  std::string agent_id;  // agent_id_of(id)
  std::string principal;
  bytes public_key_der;  // canonical SPKI
  std::uint64_t enrolled_at_ms = 0;
  std::uint32_t trust_streak = 0;  // consecutive valid replicated results (adaptive trust)
  bool trusted = false;
  std::uint64_t trusted_since_ms = 0;
  std::uint64_t session_seq = 0;
  bool online = false;
  std::uint64_t last_hello_ms = 0;
};

/// A key to admit without a token (an allowlist file entry, or open mode where the principal is the agent).
struct key_admission {
  bytes public_key_der;  // canonical SPKI; the caller has parsed it (key_id and agent_id are derived from it)
  key_id id{};
  std::string agent_id;
  std::string principal;
};

/// An operator-issued enrollment token, stored only as its SHA-256.
struct token_row {
  sha256_digest token_hash{};
  std::string principal;
  std::uint32_t key_limit = 1;
  std::uint32_t used = 0;
  std::uint64_t created_at_ms = 0;
  std::uint64_t expires_at_ms = 0;  // 0: never
  bool revoked = false;
};

struct job_row {
  std::string job_id;
  std::string kernel;
  std::string spec;  // the job file as submitted (TOML text)
  std::uint32_t quorum = 1;
  std::uint64_t deadline_ms = 0;  // 0: none; past it nothing more is leased
  job_state state = job_state::active;
  std::uint64_t created_at_ms = 0;
};

struct work_unit_row {
  std::string wu_id;
  std::string job_id;
  bytes payload;  // params and inputs as the expansion encoded them
  work_unit_state state = work_unit_state::pending;
  std::uint32_t replicas_wanted = 1;
  std::uint32_t live_replicas = 0;  // slots whose latest attempt is leased or returned (maintained by storage)
  std::uint64_t cost = 0;           // declared cost: credits per valid result
  std::optional<sha256_digest> canonical_digest;
  std::uint64_t final_at_ms = 0;  // when validated or failed
  std::uint64_t ledger_seq = 0;   // the ledger entry of its validation (0: none)
  std::string fail_reason;
  std::string single_agent;  // adaptive trust: the trusted key whose lone result may be canonical ("" : none)
  bytes ringer_answer;       // a known-answer ringer: the expected outputs as a Result blob (empty: real work)
};

/// The internal job that holds ringer work units (paused, so find_leasable never offers them to anyone else).
inline constexpr const char* ringer_job_id = "ec-ringers";

struct task_row {
  std::string task_id;  // one replica slot of a work unit; attempts count reassignments of the slot
  std::uint32_t attempt = 1;
  std::string wu_id;
  std::string agent_id;
  std::string principal;
  std::uint64_t issued_at_ms = 0;
  std::uint64_t lease_expires_ms = 0;
  bytes blob;  // the Task bytes exactly as sent inside the TaskBatch
  sha256_digest task_digest{};
  task_state state = task_state::leased;
  bool has_ok_result = false;
  bool single = false;  // commit_leases: a trusted key takes a never-issued unit unreplicated (adaptive trust)
};

/// What find_leasable() offers: a replica slot this agent may take, with the attempt to issue.
struct lease_candidate {
  std::string task_id;
  std::uint32_t attempt = 1;
  std::string wu_id;
  std::string job_id;
  std::string kernel;
  bytes payload;
  std::uint64_t cost = 0;
};

struct lease_query {
  std::string agent_id;
  std::string principal;
  std::vector<std::string> kernels;  // kernels the agent advertises; empty: none
  std::uint32_t max_tasks = 1;
  std::uint64_t now_ms = 0;
};

/// The leases of one TaskBatch with the batch bytes, recorded together (a repeated WorkRequest gets the bytes).
struct lease_commit {
  std::string agent_id;
  std::string request_id;
  std::vector<task_row> tasks;         // state, principal and has_ok_result are set by storage
  std::vector<work_unit_row> ringers;  // ringer units some of the tasks belong to, inserted in the same transaction
  bytes batch_bytes;                   // the signed TaskBatch envelope
  std::uint64_t now_ms = 0;
};

/// committed=false: another aggregator took a slot first (or the work unit changed); nothing was written.
struct lease_outcome {
  bool committed = false;
  std::string conflict;  // which slot and why, when not committed
};

/// A result as stored, keyed by (task_id, attempt, agent_id).
struct result_row {
  std::string task_id;
  std::uint32_t attempt = 1;
  std::string agent_id;
  bytes blob;  // the Result bytes exactly as received
  sha256_digest result_digest{};
  sha256_digest output_digest{};
  std::uint8_t status = 0;  // ec.wire.ResultStatus (0 = Ok)
  std::uint64_t received_at_ms = 0;
  std::uint32_t redelivery_count = 0;
};

struct store_outcome {
  bool inserted = false;                 // false: a redelivery, counted, not stored twice
  std::uint32_t redelivery_count = 0;    // after this call
  sha256_digest stored_result_digest{};  // of the row kept (the first one committed)
};

/// A stored result with the work unit and principal of its task.
struct work_unit_result {
  result_row result;
  std::string wu_id;
  std::string principal;
};

/// Pay `amount` to `principal` for `agent_id`'s result.
struct credit_grant {
  std::string principal;
  std::string agent_id;
  std::int64_t amount = 0;
};

/// A ledger entry; entry_hash chains it to the previous one (ledger.hpp has the encoding).
struct ledger_entry {
  std::uint64_t seq = 0;  // 1, 2, ...
  sha256_digest prev_hash{};
  sha256_digest entry_hash{};
  std::string wu_id;
  sha256_digest canonical_digest{};
  std::vector<std::string> principals;  // sorted, distinct
  std::uint64_t time_ms = 0;
};

/// Marks a work unit validated, pays credits and appends its ledger entry, all in one transaction.
struct validation_commit {
  std::string wu_id;
  sha256_digest canonical_digest{};
  std::vector<std::string> principals;  // contributing principals (sorted and deduplicated by storage)
  std::vector<credit_grant> credits;
  std::uint64_t now_ms = 0;
};

/// A signed (count, head hash) of the ledger (ledger.hpp says what is signed).
struct checkpoint_row {
  std::uint64_t count = 0;  // entries covered: seq 1..count
  sha256_digest head_hash{};
  std::uint64_t created_at_ms = 0;
  key_id signer{};
  raw_signature signature{};
};

struct work_unit_counts {
  std::uint64_t pending = 0;
  std::uint64_t running = 0;
  std::uint64_t validated = 0;
  std::uint64_t failed = 0;
};

struct agent_stats {
  std::string agent_id;
  std::string principal;
  std::uint64_t results_since = 0;  // stored results received at or after the window start
  std::uint64_t ok_results_since = 0;
  std::uint64_t last_result_ms = 0;
  std::uint32_t trust_streak = 0;
  bool trusted = false;
  bool online = false;
};

/// A region-wide Control an operator asked for (edgectl pause-all / resume-all); the running aggregator signs
/// and publishes it retained on P/control. seq is the Control's seq (increasing, shared by every aggregator).
struct region_control_row {
  std::uint64_t seq = 0;
  std::uint8_t desired_state = 0;  // ec.wire.AgentState (0 run, 1 pause, 2 drain)
  std::uint64_t requested_at_ms = 0;
  std::uint64_t published_at_ms = 0;  // 0: not published yet
};

struct expired_task {
  std::string task_id;
  std::uint32_t attempt = 1;
  std::string wu_id;
  std::string agent_id;
};

/// Storage calls grouped into one transaction (a ResultBatch: its results and the validation of their units).
/// Rolled back when destroyed before commit().
class storage_batch {
 public:
  virtual ~storage_batch() = default;
  /// Commits everything done since begin_batch(); durable (synchronous=FULL) when it returns.
  virtual result<void> commit() = 0;
};

/// The aggregator's durable state. Implementations are safe to call from several threads (each says how).
class storage {
 public:
  virtual ~storage() = default;

  /// Starts a batch: the calling thread's storage calls until it ends join its transaction (each call keeps its
  /// own all-or-nothing effect), and other threads' calls wait for it.
  virtual result<std::unique_ptr<storage_batch>> begin_batch() = 0;

  // --- enrollment ---
  /// Adds a principal or confirms one of the same kind; a different kind for an existing name is refused.
  virtual result<void> ensure_principal(const std::string& name, principal_kind kind, std::uint64_t now_ms) = 0;
  /// Admits keys under their principals (kind allowlist or open); a key already enrolled keeps its principal.
  virtual result<void> admit_keys(std::span<const key_admission> keys, principal_kind kind, std::uint64_t now_ms) = 0;
  /// Stores a token (only its hash) for a principal of kind token, created if missing.
  virtual result<void> add_token(const token_row& token) = 0;
  /// Binds a key to the token's principal; a key already enrolled returns its row unchanged without using the
  /// token. Unknown, revoked or expired tokens and tokens at their key limit are refused (untrusted_key).
  virtual result<agent_key_row> enroll_with_token(const sha256_digest& token_hash, const key_admission& key,
                                                  std::uint64_t now_ms) = 0;
  virtual result<std::optional<token_row>> find_token(const sha256_digest& token_hash) = 0;
  virtual result<std::optional<agent_key_row>> find_agent_key(const key_id& id) = 0;
  virtual result<std::optional<agent_key_row>> find_agent(const std::string& agent_id) = 0;
  virtual result<std::vector<agent_key_row>> list_agents() = 0;
  /// Applies a hello: online=false only takes effect when session_seq >= the current one (protocol.md).
  virtual result<void> record_hello(const std::string& agent_id, std::uint64_t session_seq, bool online,
                                    protocol::byte_span hello_body, std::uint64_t now_ms) = 0;
  /// The body of the hello recorded last for the agent (nothing when none was), as it came off the wire.
  virtual result<std::optional<bytes>> last_hello(const std::string& agent_id) = 0;
  /// Stores the adaptive-trust state the core computed.
  virtual result<void> set_trust(const std::string& agent_id, std::uint32_t streak, bool trusted,
                                 std::uint64_t trusted_since_ms) = 0;

  // --- jobs ---
  /// Inserts a job with all its work units in one transaction; a duplicate job or work unit id is refused.
  virtual result<void> insert_job(const job_row& job, std::span<const work_unit_row> units) = 0;
  virtual result<std::optional<job_row>> find_job(const std::string& job_id) = 0;
  virtual result<void> set_job_state(const std::string& job_id, job_state state) = 0;
  virtual result<std::optional<work_unit_row>> find_work_unit(const std::string& wu_id) = 0;
  /// Raises (or lowers) the replicas a work unit wants: disagreement adds replicas, a trusted agent needs one.
  virtual result<void> set_replicas_wanted(const std::string& wu_id, std::uint32_t replicas) = 0;
  /// Opens a work unit again for validation: a validated unit goes back to pending/running without its canonical
  /// result (a trusted key that produced it was caught), a running unit drops its single_agent; either way it
  /// wants `replicas` live replicas (at least one more than it has). Returns false for a failed or unknown unit.
  virtual result<bool> reopen_work_unit(const std::string& wu_id, std::uint32_t replicas, std::uint64_t now_ms) = 0;
  /// Decides a ringer unit: validated when its answer was right, failed otherwise; no ledger entry, no credits.
  /// Returns false when it was already final.
  virtual result<bool> settle_ringer(const std::string& wu_id, bool passed, const std::string& reason,
                                     std::uint64_t now_ms) = 0;
  /// Marks a work unit failed (final); refused for a validated one.
  virtual result<void> fail_work_unit(const std::string& wu_id, const std::string& reason, std::uint64_t now_ms) = 0;

  // --- leases ---
  /// Replica slots the agent may take: active jobs before their deadline, a kernel it advertises, a work unit
  /// that wants more live replicas and on which its principal holds no live lease and no Ok result. One slot
  /// per work unit; freed and expired slots are offered again with attempt + 1. Oldest jobs first.
  virtual result<std::vector<lease_candidate>> find_leasable(const lease_query& query) = 0;
  /// Records a TaskBatch's leases and bytes atomically, re-checking every slot (several aggregators).
  virtual result<lease_outcome> commit_leases(const lease_commit& commit) = 0;
  virtual result<std::optional<task_row>> find_task(const std::string& task_id, std::uint32_t attempt) = 0;
  /// The TaskBatch bytes stored for (agent_id, request_id), for a repeated WorkRequest.
  virtual result<std::optional<bytes>> find_batch(const std::string& agent_id, const std::string& request_id) = 0;
  /// Deletes stored batches created before `before_ms`; returns how many.
  virtual result<std::uint64_t> prune_batches(std::uint64_t before_ms) = 0;
  /// Expires every lease with lease_expires_ms <= now_ms; their slots are offered again with attempt + 1.
  virtual result<std::vector<expired_task>> expire_leases(std::uint64_t now_ms) = 0;
  /// Frees a leased task at once (Rejected/Expired/Unsupported, a cancelled task); no-op if not leased.
  virtual result<void> release_task(const std::string& task_id, std::uint32_t attempt) = 0;

  // --- results ---
  /// Stores a ResultBatch's results in one durable transaction, idempotently by (task_id, attempt, agent_id):
  /// a redelivery increments redelivery_count and keeps the first row. An Ok result marks its task returned,
  /// any other status frees it. The caller has run the receiver checks (task exists, lease, digests).
  virtual result<std::vector<store_outcome>> store_results(std::span<const result_row> results) = 0;
  virtual result<std::optional<result_row>> find_result(const std::string& task_id, std::uint32_t attempt,
                                                        const std::string& agent_id) = 0;
  /// Every stored result of a work unit's tasks, in arrival order.
  virtual result<std::vector<work_unit_result>> results_for_work_unit(const std::string& wu_id) = 0;

  // --- validation, ledger, credits ---
  /// Validates a work unit, pays credits and appends the ledger entry atomically; returns the entry, or nullopt
  /// when the work unit was already final (another aggregator won; nothing was written).
  virtual result<std::optional<ledger_entry>> validate_work_unit(const validation_commit& commit) = 0;
  /// Ledger entries with seq >= from_seq, in order, at most `limit`.
  virtual result<std::vector<ledger_entry>> ledger_entries(std::uint64_t from_seq, std::uint32_t limit) = 0;
  /// The last entry, or nullopt for an empty ledger.
  virtual result<std::optional<ledger_entry>> ledger_head() = 0;
  virtual result<void> insert_checkpoint(const checkpoint_row& checkpoint) = 0;
  /// Checkpoints in order of count.
  virtual result<std::vector<checkpoint_row>> checkpoints() = 0;
  virtual result<std::optional<checkpoint_row>> last_checkpoint() = 0;
  /// The highest ledger seq a validated work unit refers to (verify_ledger's cross-check for a cut tail).
  virtual result<std::uint64_t> highest_referenced_ledger_seq() = 0;
  /// Adds (or, negative, removes) credits outside validation.
  virtual result<void> add_credits(const credit_grant& grant, const std::string& reason, std::uint64_t now_ms) = 0;
  /// Claws back everything `agent_id` earned at or after since_ms and not clawed back yet; returns the amount.
  virtual result<std::int64_t> claw_back(const std::string& agent_id, std::uint64_t since_ms, const std::string& reason,
                                         std::uint64_t now_ms) = 0;
  virtual result<std::int64_t> credit_balance(const std::string& principal) = 0;
  /// Work units validated on a single contributing principal's result by `agent_id` since `since_ms` (for
  /// re-issuing after a trusted agent is caught).
  virtual result<std::vector<std::string>> unreplicated_validations(const std::string& agent_id,
                                                                    std::uint64_t since_ms) = 0;

  // --- status (edgectl) ---
  /// Work-unit counts per state, for one job or (empty id) all jobs.
  virtual result<work_unit_counts> count_work_units(const std::string& job_id) = 0;
  /// Per-agent results received at or after since_ms, with trust and online state.
  virtual result<std::vector<agent_stats>> agent_throughput(std::uint64_t since_ms) = 0;
  /// Every job, oldest first.
  virtual result<std::vector<job_row>> list_jobs() = 0;
  /// A job's work units in order of submission (payloads included).
  virtual result<std::vector<work_unit_row>> list_work_units(const std::string& job_id) = 0;
  /// Every attempt of every replica slot of a work unit (blobs left empty).
  virtual result<std::vector<task_row>> tasks_for_work_unit(const std::string& wu_id) = 0;
  /// Work units still pending or running that have at least one stored result (validation to resume after a
  /// restart), at most `limit`.
  virtual result<std::vector<std::string>> unsettled_work_units(std::uint32_t limit) = 0;
  /// How many open work units want more live replicas (a cheap test before answering held WorkRequests).
  virtual result<std::uint64_t> count_leasable(std::uint64_t now_ms) = 0;

  // --- region controls (operator requests) ---
  /// Records a request for a region-wide Control; returns its seq.
  virtual result<std::uint64_t> request_region_control(std::uint8_t desired_state, std::uint64_t now_ms) = 0;
  /// The newest request, or nullopt when there was none.
  virtual result<std::optional<region_control_row>> latest_region_control() = 0;
  /// Marks a request published (idempotent).
  virtual result<void> mark_region_control_published(std::uint64_t seq, std::uint64_t now_ms) = 0;
};

}  // namespace ec::aggregator
