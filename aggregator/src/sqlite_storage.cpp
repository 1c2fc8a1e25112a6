// Opening the SQLite database (pragmas, schema migrations), the shared row readers, and jobs.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iterator>

#include "sqlite_storage_impl.hpp"

namespace ec::aggregator {
namespace {

using namespace sqlite_detail;

// 'ECAG': marks the file as an edgecompute aggregator database (PRAGMA application_id).
constexpr std::int64_t application_id = 0x45434147;

struct migration {
  std::uint32_t version;
  const char* sql;
};

// Migrations run in order, all in one transaction; never edit a released one, add the next.
// Time columns are milliseconds since the Unix epoch; digests and key ids are 32-byte blobs.
constexpr migration migrations[] = {
    {1, R"sql(
CREATE TABLE principals (
  name TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('allowlist', 'token', 'open')),
  created_at_ms INTEGER NOT NULL
);
CREATE TABLE enrollment_tokens (
  token_hash BLOB PRIMARY KEY CHECK (length(token_hash) = 32),
  principal TEXT NOT NULL REFERENCES principals(name),
  key_limit INTEGER NOT NULL CHECK (key_limit >= 1),
  used INTEGER NOT NULL DEFAULT 0 CHECK (used >= 0 AND used <= key_limit),
  created_at_ms INTEGER NOT NULL,
  expires_at_ms INTEGER NOT NULL DEFAULT 0,
  revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE agent_keys (
  key_id BLOB PRIMARY KEY CHECK (length(key_id) = 32),
  agent_id TEXT NOT NULL UNIQUE,
  principal TEXT NOT NULL REFERENCES principals(name),
  public_key BLOB NOT NULL,
  enrolled_at_ms INTEGER NOT NULL,
  token_hash BLOB REFERENCES enrollment_tokens(token_hash),
  trust_streak INTEGER NOT NULL DEFAULT 0,
  trusted INTEGER NOT NULL DEFAULT 0,
  trusted_since_ms INTEGER NOT NULL DEFAULT 0,
  session_seq INTEGER NOT NULL DEFAULT 0,
  online INTEGER NOT NULL DEFAULT 0,
  last_hello_ms INTEGER NOT NULL DEFAULT 0,
  last_hello BLOB
);
CREATE INDEX agent_keys_principal ON agent_keys(principal);
CREATE TABLE jobs (
  job_id TEXT PRIMARY KEY,
  kernel TEXT NOT NULL,
  spec TEXT NOT NULL,
  quorum INTEGER NOT NULL CHECK (quorum >= 1),
  deadline_ms INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL CHECK (state IN ('active', 'paused', 'done', 'cancelled')),
  created_at_ms INTEGER NOT NULL
);
CREATE TABLE work_units (
  wu_id TEXT PRIMARY KEY,
  job_id TEXT NOT NULL REFERENCES jobs(job_id),
  payload BLOB NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'running', 'validated', 'failed')),
  replicas_wanted INTEGER NOT NULL CHECK (replicas_wanted >= 1),
  live_replicas INTEGER NOT NULL DEFAULT 0 CHECK (live_replicas >= 0),
  slots INTEGER NOT NULL DEFAULT 0,
  cost INTEGER NOT NULL DEFAULT 0,
  canonical_digest BLOB,
  final_at_ms INTEGER NOT NULL DEFAULT 0,
  ledger_seq INTEGER NOT NULL DEFAULT 0,
  fail_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX work_units_job ON work_units(job_id, state);
CREATE INDEX work_units_open ON work_units(state) WHERE state IN ('pending', 'running');
CREATE TABLE tasks (
  task_id TEXT NOT NULL,
  attempt INTEGER NOT NULL CHECK (attempt >= 1),
  wu_id TEXT NOT NULL REFERENCES work_units(wu_id),
  agent_id TEXT NOT NULL,
  principal TEXT NOT NULL,
  issued_at_ms INTEGER NOT NULL,
  lease_expires_ms INTEGER NOT NULL,
  blob BLOB NOT NULL,
  task_digest BLOB NOT NULL CHECK (length(task_digest) = 32),
  state TEXT NOT NULL CHECK (state IN ('leased', 'returned', 'freed', 'expired')),
  latest INTEGER NOT NULL DEFAULT 1,
  has_ok_result INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (task_id, attempt)
);
CREATE INDEX tasks_wu_principal ON tasks(wu_id, principal);
CREATE INDEX tasks_leased ON tasks(lease_expires_ms) WHERE state = 'leased';
CREATE INDEX tasks_dead_slots ON tasks(wu_id) WHERE latest = 1 AND state IN ('freed', 'expired');
CREATE TABLE stored_batches (
  agent_id TEXT NOT NULL,
  request_id TEXT NOT NULL,
  batch BLOB NOT NULL,
  created_at_ms INTEGER NOT NULL,
  PRIMARY KEY (agent_id, request_id)
);
CREATE INDEX stored_batches_age ON stored_batches(created_at_ms);
CREATE TABLE results (
  task_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  agent_id TEXT NOT NULL,
  blob BLOB NOT NULL,
  result_digest BLOB NOT NULL CHECK (length(result_digest) = 32),
  output_digest BLOB NOT NULL,
  status INTEGER NOT NULL,
  received_at_ms INTEGER NOT NULL,
  redelivery_count INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (task_id, attempt, agent_id),
  FOREIGN KEY (task_id, attempt) REFERENCES tasks(task_id, attempt)
);
CREATE INDEX results_agent_time ON results(agent_id, received_at_ms);
CREATE TABLE ledger (
  seq INTEGER PRIMARY KEY CHECK (seq >= 1),
  prev_hash BLOB NOT NULL,
  entry_hash BLOB NOT NULL,
  wu_id TEXT NOT NULL,
  canonical_digest BLOB NOT NULL,
  principals TEXT NOT NULL,
  time_ms INTEGER NOT NULL
);
CREATE TABLE checkpoints (
  count INTEGER PRIMARY KEY CHECK (count >= 1),
  head_hash BLOB NOT NULL,
  created_at_ms INTEGER NOT NULL,
  key_id BLOB NOT NULL,
  signature BLOB NOT NULL
);
CREATE TABLE credits (
  principal TEXT PRIMARY KEY REFERENCES principals(name),
  amount INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE credit_events (
  id INTEGER PRIMARY KEY,
  principal TEXT NOT NULL REFERENCES principals(name),
  agent_id TEXT NOT NULL,
  wu_id TEXT NOT NULL DEFAULT '',
  delta INTEGER NOT NULL,
  reason TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  clawed_back INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX credit_events_agent ON credit_events(agent_id, at_ms);
)sql"},
    // 2: region-wide Controls requested by the operator (edgectl pause-all / resume-all); the seq is the
    // Control's seq, so it only grows (AUTOINCREMENT never reuses a number).
    {2, R"sql(
CREATE TABLE region_controls (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  desired_state INTEGER NOT NULL CHECK (desired_state IN (0, 1, 2)),
  requested_at_ms INTEGER NOT NULL,
  published_at_ms INTEGER NOT NULL DEFAULT 0
);
)sql"},
    // 3: adaptive replication (issue 5): a unit leased unreplicated to a trusted key names that key, and a
    // known-answer ringer unit carries its expected outputs; ringers live in one internal job that stays paused.
    {3, R"sql(
ALTER TABLE work_units ADD COLUMN single_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE work_units ADD COLUMN ringer_answer BLOB;
)sql"},
};

std::uint64_t wall_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

result<std::int64_t> scalar(sql::database& db, std::string_view text) {
  auto q = db.prepare(text);
  if (!q) return q.err();
  auto row = q->step();
  if (!row) return row.err();
  return *row ? q->col_int(0) : 0;
}

// Pragmas that must run outside a transaction; WAL is checked, since SQLite silently keeps another mode on
// file systems that cannot share memory.
result<void> configure(sql::database& db, std::uint32_t busy_timeout_ms) {
  if (sqlite3_busy_timeout(db.handle(), static_cast<int>(std::min<std::uint32_t>(busy_timeout_ms, 1U << 30))) !=
      SQLITE_OK)
    return db.failure("busy_timeout");
  auto mode = db.prepare("PRAGMA journal_mode=WAL");
  if (!mode) return mode.err();
  auto row = mode->step();
  if (!row) return row.err();
  const std::string got = *row ? mode->col_text(0) : std::string();
  if (got != "wal") return fail(error_code::io_error, "sqlite: cannot enable WAL (journal_mode is '" + got + "')");
  // temp_store=MEMORY keeps the savepoints' sub-journals (a storage_batch makes one per call) in memory: on disk
  // they cost a temporary file and ~20 page writes per validated unit. They are discarded at commit or rollback
  // either way, so durability is the same. A 16 MiB page cache (the default is 2 MiB) keeps a busy region's index
  // pages in memory instead of reading them back from the OS for each result.
  EC_SQL_TRY(
      db.exec("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-16384;",
              "pragmas"));
  return {};
}

result<void> migrate(sql::database& db, sqlite_open_report& report) {
  auto app = scalar(db, "PRAGMA application_id");
  if (!app) return app.err();
  auto tables = scalar(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'");
  if (!tables) return tables.err();
  if (*app != application_id && (*app != 0 || *tables != 0))
    return fail(error_code::malformed,
                "sqlite: not an edgecompute aggregator database (application_id " + std::to_string(*app) + ")");
  auto tx = sql::transaction::begin(db);
  if (!tx) return tx.err();
  EC_SQL_TRY(
      db.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
              "applied_at_ms INTEGER NOT NULL)",
              "create schema_version"));
  auto found = scalar(db, "SELECT coalesce(max(version), 0) FROM schema_version");
  if (!found) return found.err();
  report.found_version = static_cast<std::uint32_t>(*found);
  if (*found > static_cast<std::int64_t>(sqlite_schema_version))
    return fail(error_code::unsupported, "database schema version " + std::to_string(*found) +
                                             " is newer than this build understands (" +
                                             std::to_string(sqlite_schema_version) + "); upgrade edge-aggregator");
  for (const auto& m : migrations) {
    if (m.version <= report.found_version) continue;
    EC_SQL_TRY(db.exec(m.sql, "migration " + std::to_string(m.version)));
    auto q = db.prepare("INSERT INTO schema_version (version, applied_at_ms) VALUES (?1, ?2)");
    if (!q) return q.err();
    EC_SQL_TRY(q->bind(1, m.version).bind_u64(2, wall_ms()).run());
    ++report.migrations_applied;
  }
  EC_SQL_TRY(db.exec("PRAGMA application_id = " + std::to_string(application_id), "application_id"));
  return tx->commit();
}

}  // namespace

namespace sqlite_detail {

namespace {
template <typename E, std::size_t N>
std::optional<E> parse_enum(std::string_view s, const E (&values)[N]) noexcept {
  for (const E v : values)
    if (to_string(v) == s) return v;
  return std::nullopt;
}
}  // namespace

std::optional<job_state> parse_job_state(std::string_view s) noexcept {
  constexpr job_state all[] = {job_state::active, job_state::paused, job_state::done, job_state::cancelled};
  return parse_enum(s, all);
}
std::optional<work_unit_state> parse_work_unit_state(std::string_view s) noexcept {
  constexpr work_unit_state all[] = {work_unit_state::pending, work_unit_state::running, work_unit_state::validated,
                                     work_unit_state::failed};
  return parse_enum(s, all);
}
std::optional<task_state> parse_task_state(std::string_view s) noexcept {
  constexpr task_state all[] = {task_state::leased, task_state::returned, task_state::freed, task_state::expired};
  return parse_enum(s, all);
}
std::optional<principal_kind> parse_principal_kind(std::string_view s) noexcept {
  constexpr principal_kind all[] = {principal_kind::allowlist, principal_kind::token, principal_kind::open};
  return parse_enum(s, all);
}

result<void> adjust_live(sql::database& db, const std::string& wu_id, int delta) {
  // A unit leased unreplicated to a trusted key that loses its only live replica (expired, freed, an error) must
  // not be offered to anyone else as a single replica: it wants its job's quorum again.
  auto q = db.prepare(
      "UPDATE work_units SET live_replicas = max(live_replicas + ?2, 0), state = CASE WHEN state IN ('validated', "
      "'failed') THEN state WHEN live_replicas + ?2 > 0 THEN 'running' ELSE 'pending' END, replicas_wanted = CASE "
      "WHEN single_agent != '' AND state IN ('pending', 'running') AND live_replicas + ?2 <= 0 THEN max(1, "
      "(SELECT quorum FROM jobs j WHERE j.job_id = work_units.job_id)) ELSE replicas_wanted END, single_agent = CASE "
      "WHEN state IN ('pending', 'running') AND live_replicas + ?2 <= 0 THEN '' ELSE single_agent END WHERE wu_id = "
      "?1");
  if (!q) return q.err();
  return q->bind_text(1, wu_id).bind(2, delta).run();
}

result<void> settle_job(sql::database& db, const std::string& wu_id) {
  auto q = db.prepare(
      "UPDATE jobs SET state = 'done' WHERE job_id = (SELECT job_id FROM work_units WHERE wu_id = ?1) AND state IN "
      "('active', 'paused') AND NOT EXISTS (SELECT 1 FROM work_units w WHERE w.job_id = jobs.job_id AND w.state IN "
      "('pending', 'running'))");
  if (!q) return q.err();
  return q->bind_text(1, wu_id).run();
}

agent_key_row read_agent_key(const sql::query& q) {
  agent_key_row r;
  (void)q.col_array(0, r.id);
  r.agent_id = q.col_text(1);
  r.principal = q.col_text(2);
  r.public_key_der = q.col_blob(3);
  r.enrolled_at_ms = q.col_u64(4);
  r.trust_streak = q.col_u32(5);
  r.trusted = q.col_int(6) != 0;
  r.trusted_since_ms = q.col_u64(7);
  r.session_seq = q.col_u64(8);
  r.online = q.col_int(9) != 0;
  r.last_hello_ms = q.col_u64(10);
  return r;
}

job_row read_job(const sql::query& q) {
  job_row j;
  j.job_id = q.col_text(0);
  j.kernel = q.col_text(1);
  j.spec = q.col_text(2);
  j.quorum = q.col_u32(3);
  j.deadline_ms = q.col_u64(4);
  j.state = parse_job_state(q.col_text(5)).value_or(job_state::cancelled);
  j.created_at_ms = q.col_u64(6);
  return j;
}

work_unit_row read_work_unit(const sql::query& q) {
  work_unit_row w;
  w.wu_id = q.col_text(0);
  w.job_id = q.col_text(1);
  w.payload = q.col_blob(2);
  w.state = parse_work_unit_state(q.col_text(3)).value_or(work_unit_state::failed);
  w.replicas_wanted = q.col_u32(4);
  w.live_replicas = q.col_u32(5);
  w.cost = q.col_u64(6);
  if (sha256_digest d{}; !q.col_null(7) && q.col_array(7, d)) w.canonical_digest = d;
  w.final_at_ms = q.col_u64(8);
  w.ledger_seq = q.col_u64(9);
  w.fail_reason = q.col_text(10);
  w.single_agent = q.col_text(11);
  if (!q.col_null(12)) w.ringer_answer = q.col_blob(12);
  return w;
}

task_row read_task(const sql::query& q) {
  task_row t;
  t.task_id = q.col_text(0);
  t.attempt = q.col_u32(1);
  t.wu_id = q.col_text(2);
  t.agent_id = q.col_text(3);
  t.principal = q.col_text(4);
  t.issued_at_ms = q.col_u64(5);
  t.lease_expires_ms = q.col_u64(6);
  t.blob = q.col_blob(7);
  (void)q.col_array(8, t.task_digest);
  t.state = parse_task_state(q.col_text(9)).value_or(task_state::freed);
  t.has_ok_result = q.col_int(10) != 0;
  return t;
}

result_row read_result(const sql::query& q, int first) {
  result_row r;
  r.task_id = q.col_text(first);
  r.attempt = q.col_u32(first + 1);
  r.agent_id = q.col_text(first + 2);
  r.blob = q.col_blob(first + 3);
  (void)q.col_array(first + 4, r.result_digest);
  (void)q.col_array(first + 5, r.output_digest);
  r.status = static_cast<std::uint8_t>(q.col_int(first + 6));
  r.received_at_ms = q.col_u64(first + 7);
  r.redelivery_count = q.col_u32(first + 8);
  return r;
}

ledger_entry read_ledger_entry(const sql::query& q) {
  ledger_entry e;
  e.seq = q.col_u64(0);
  if (!q.col_array(1, e.prev_hash)) e.prev_hash.fill(0);
  if (!q.col_array(2, e.entry_hash)) e.entry_hash.fill(0);
  e.wu_id = q.col_text(3);
  if (!q.col_array(4, e.canonical_digest)) e.canonical_digest.fill(0);
  e.principals = split_principals(q.col_text(5));
  e.time_ms = q.col_u64(6);
  return e;
}

std::string join_principals(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i != 0) out += '\n';
    out += names[i];
  }
  return out;
}

std::vector<std::string> split_principals(const std::string& text) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  std::size_t start = 0;
  for (;;) {
    const auto nl = text.find('\n', start);
    out.push_back(text.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return out;
}

}  // namespace sqlite_detail

sqlite_storage::sqlite_storage(std::unique_ptr<impl> state) : impl_(std::move(state)) {}
sqlite_storage::~sqlite_storage() = default;

const sqlite_open_report& sqlite_storage::open_report() const { return impl_->report; }

result<std::unique_ptr<sqlite_storage>> sqlite_storage::open(const sqlite_options& options) {
  auto state = std::make_unique<impl>();
  std::error_code fs_error;
  state->report.created = !std::filesystem::exists(options.path, fs_error);
  auto db = sql::database::open(options.path.string(), options.create);
  if (!db) return db.err();
  state->db = std::move(*db);
  EC_SQL_TRY(configure(*state->db, options.busy_timeout_ms));
  EC_SQL_TRY(migrate(*state->db, state->report));
  return std::unique_ptr<sqlite_storage>(new sqlite_storage(std::move(state)));
}

result<void> sqlite_storage::insert_job(const job_row& job, std::span<const work_unit_row> units) {
  if (job.job_id.empty() || job.kernel.empty())
    return fail(error_code::invalid_argument, "job needs an id and a kernel");
  if (job.quorum == 0) return fail(error_code::invalid_argument, "job " + job.job_id + ": quorum must be at least 1");
  std::lock_guard lock(impl_->mu);
  auto& db = *impl_->db;
  auto tx = sql::transaction::begin(db);
  if (!tx) return tx.err();
  {
    auto q = db.prepare(
        "INSERT INTO jobs (job_id, kernel, spec, quorum, deadline_ms, state, created_at_ms) VALUES (?1, ?2, ?3, ?4, "
        "?5, ?6, ?7)");
    if (!q) return q.err();
    q->bind_text(1, job.job_id).bind_text(2, job.kernel).bind_text(3, job.spec).bind(4, job.quorum);
    q->bind_u64(5, job.deadline_ms).bind_text(6, to_string(job.state)).bind_u64(7, job.created_at_ms);
    if (auto r = q->run(); !r) return fail(r.code(), "job " + job.job_id + ": " + r.err().message);
  }
  auto q = db.prepare(
      "INSERT INTO work_units (wu_id, job_id, payload, state, replicas_wanted, cost) VALUES (?1, ?2, ?3, "
      "'pending', ?4, ?5)");
  if (!q) return q.err();
  for (const auto& u : units) {
    if (u.job_id != job.job_id)
      return fail(error_code::invalid_argument, "work unit " + u.wu_id + " names job " + u.job_id);
    if (u.replicas_wanted == 0)
      return fail(error_code::invalid_argument, "work unit " + u.wu_id + " wants no replicas");
    q->bind_text(1, u.wu_id).bind_text(2, job.job_id).bind_blob(3, u.payload).bind(4, u.replicas_wanted);
    q->bind_u64(5, u.cost);
    if (auto r = q->run(); !r) return fail(r.code(), "work unit " + u.wu_id + ": " + r.err().message);
  }
  return tx->commit();
}

result<std::optional<job_row>> sqlite_storage::find_job(const std::string& job_id) {
  std::lock_guard lock(impl_->mu);
  auto q = impl_->db->prepare(std::string("SELECT ") + job_columns + " FROM jobs WHERE job_id = ?1");
  if (!q) return q.err();
  q->bind_text(1, job_id);
  auto row = q->step();
  if (!row) return row.err();
  if (!*row) return std::optional<job_row>();
  return std::optional<job_row>(read_job(*q));
}

result<void> sqlite_storage::set_job_state(const std::string& job_id, job_state state) {
  std::lock_guard lock(impl_->mu);
  auto q = impl_->db->prepare("UPDATE jobs SET state = ?2 WHERE job_id = ?1");
  if (!q) return q.err();
  EC_SQL_TRY(q->bind_text(1, job_id).bind_text(2, to_string(state)).run());
  if (impl_->db->changes() == 0) return fail(error_code::invalid_argument, "no job " + job_id);
  return {};
}

result<std::optional<work_unit_row>> sqlite_storage::find_work_unit(const std::string& wu_id) {
  std::lock_guard lock(impl_->mu);
  auto q = impl_->db->prepare(std::string(work_unit_columns) + " FROM work_units WHERE wu_id = ?1");
  if (!q) return q.err();
  q->bind_text(1, wu_id);
  auto row = q->step();
  if (!row) return row.err();
  if (!*row) return std::optional<work_unit_row>();
  return std::optional<work_unit_row>(read_work_unit(*q));
}

result<void> sqlite_storage::set_replicas_wanted(const std::string& wu_id, std::uint32_t replicas) {
  if (replicas == 0) return fail(error_code::invalid_argument, "work unit " + wu_id + ": replicas must be >= 1");
  std::lock_guard lock(impl_->mu);
  const relaxed_sync relaxed(*impl_->db);  // re-derived from the durable results after a crash
  auto q = impl_->db->prepare("UPDATE work_units SET replicas_wanted = ?2 WHERE wu_id = ?1");
  if (!q) return q.err();
  EC_SQL_TRY(q->bind_text(1, wu_id).bind(2, replicas).run());
  if (impl_->db->changes() == 0) return fail(error_code::invalid_argument, "no work unit " + wu_id);
  return {};
}

result<void> sqlite_storage::fail_work_unit(const std::string& wu_id, const std::string& reason, std::uint64_t now_ms) {
  std::lock_guard lock(impl_->mu);
  auto& db = *impl_->db;
  auto tx = sql::transaction::begin(db);
  if (!tx) return tx.err();
  auto q = db.prepare(
      "UPDATE work_units SET state = 'failed', fail_reason = ?2, final_at_ms = ?3 WHERE wu_id = ?1 AND state IN "
      "('pending', 'running')");
  if (!q) return q.err();
  EC_SQL_TRY(q->bind_text(1, wu_id).bind_text(2, reason).bind_u64(3, now_ms).run());
  if (db.changes() == 0) return fail(error_code::invalid_argument, "work unit " + wu_id + " is unknown or final");
  EC_SQL_TRY(settle_job(db, wu_id));
  return tx->commit();
}

}  // namespace ec::aggregator
