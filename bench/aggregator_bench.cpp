// ec_bench_aggregator: issue 5's aggregator figures (docs/performance.md, "Aggregator (issue 5)").
//
// 1. Validated results per second for tiny tasks on one core with batching, in process (no MQTT): pre-signed
//    ResultBatches of 64 results from simulated agents (each its own key) go through the service's result path
//    (open + verify, the per-result receiver checks, then one transaction per batch holding the results and the
//    quorum validation of their units with ledger entries and credits, one synchronous commit, then the signed
//    Receipt), once with each signer implementation (Mbed TLS, OpenSSL) on the aggregator side, in wall-clock and
//    CPU time. Target >= 10,000/s. Beside it, the machine's own limits measured in the same run: what the
//    signatures alone allow, and raw SQLite's insert rate.
// 2. Adaptive replication with 25 % liars (aggregator_bench_sim.cpp): results computed per work unit validated, and
//    wrong canonical results per 10^4 work units.
//
// Usage: ec_bench_aggregator [--dir FOLDER] [--units N] [--sim-units N]; the database folder defaults to /tmp (a
// real disk: synchronous commits cost what they cost there).
#include "aggregator_bench.hpp"

#include <sqlite3.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <set>

#include "ec/aggregator/enrollment.hpp"
#include "ec/aggregator/task_template.hpp"
#include "ec/aggregator/unit_validator.hpp"
#include "ec/protocol/digests.hpp"
#include "ec/protocol/envelope.hpp"
#include "ec/protocol/mbedtls_signer.hpp"
#include "ec/protocol/message_views.hpp"
#include "ec/protocol/openssl_signer.hpp"
#include "ec/protocol/sha256.hpp"

namespace ec::bench::agg {

using namespace ec::aggregator;

namespace {

constexpr const char* prefix = "ec/v1/bench";
constexpr std::size_t results_per_batch = 64;

template <typename T>
T must(result<T> r, const char* what) {
  if (!r) {
    std::fprintf(stderr, "ec_bench_aggregator: %s: %s\n", what, r.err().what().c_str());
    std::exit(1);
  }
  return std::move(r).value();
}

void must(result<void> r, const char* what) {
  if (!r) {
    std::fprintf(stderr, "ec_bench_aggregator: %s: %s\n", what, r.err().what().c_str());
    std::exit(1);
  }
}

// The 16 output bytes an honest agent computes for a unit.
protocol::tensor honest_output(const std::string& wu_id) {
  const auto d = protocol::sha256_of(protocol::as_bytes(wu_id));
  return {"y", protocol::dtype::u8, {16}, protocol::bytes(d.begin(), d.begin() + 16)};
}

// Leases every unit's replicas to the agents, round robin, in batches of 256; returns each agent's tasks.
std::vector<std::vector<task_row>> lease_all(storage& db, const std::vector<sim_agent>& agents) {
  std::vector<std::vector<task_row>> out(agents.size());
  for (bool any = true; any;) {
    any = false;
    for (std::size_t i = 0; i < agents.size(); ++i) {
      const auto& a = agents[i];
      auto offered = must(db.find_leasable({a.agent_id, a.principal, {"copy"}, 256, 1000}), "find_leasable");
      if (offered.empty()) continue;
      any = true;
      lease_commit c;
      c.agent_id = a.agent_id;
      c.request_id = "r" + std::to_string(out[i].size());
      c.now_ms = 1000;
      for (const auto& o : offered) {
        protocol::task t = must(decode_task_template(o.payload), "template");
        t.task_id = o.task_id;
        t.attempt = o.attempt;
        t.agent_id = a.agent_id;
        task_row row;
        row.task_id = o.task_id;
        row.attempt = o.attempt;
        row.wu_id = o.wu_id;
        row.agent_id = a.agent_id;
        row.issued_at_ms = 1000;
        row.lease_expires_ms = 1ULL << 50;
        row.blob = protocol::build(t);
        row.task_digest = protocol::task_digest(row.blob);
        c.tasks.push_back(std::move(row));
      }
      c.batch_bytes = protocol::bytes(16, 0);
      if (!must(db.commit_leases(c), "commit_leases").committed) continue;
      out[i].insert(out[i].end(), c.tasks.begin(), c.tasks.end());
    }
  }
  return out;
}

// Each agent's tasks as sealed ResultBatches of 64 (signed by the agent), interleaved across agents.
std::vector<protocol::bytes> sign_batches(const std::vector<sim_agent>& agents,
                                          const std::vector<std::vector<task_row>>& tasks) {
  std::vector<std::vector<protocol::bytes>> per_agent(agents.size());
  for (std::size_t i = 0; i < agents.size(); ++i) {
    for (std::size_t at = 0; at < tasks[i].size(); at += results_per_batch) {
      protocol::result_batch b;
      b.agent_id = agents[i].agent_id;
      for (std::size_t k = at; k < std::min(tasks[i].size(), at + results_per_batch); ++k) {
        const auto& t = tasks[i][k];
        protocol::task_result r;
        r.task_id = t.task_id;
        r.job_id = "bench";
        r.attempt = t.attempt;
        r.agent_id = agents[i].agent_id;
        r.task_digest.assign(t.task_digest.begin(), t.task_digest.end());
        r.outputs.push_back(honest_output(t.wu_id));
        const auto d = protocol::output_digest(std::vector<protocol::tensor_ref>{r.outputs[0].ref()});
        r.output_digest.assign(d.begin(), d.end());
        b.results.push_back(protocol::build(r));
      }
      per_agent[i].push_back(
          must(protocol::seal(protocol::message_kind::result_batch, protocol::build(b), prefix, *agents[i].key),
               "seal result batch"));
    }
  }
  std::vector<protocol::bytes> out;
  for (std::size_t round = 0;; ++round) {
    bool any = false;
    for (auto& list : per_agent) {
      if (round >= list.size()) continue;
      out.push_back(std::move(list[round]));
      any = true;
    }
    if (!any) return out;
  }
}

struct pipeline {
  storage& db;
  const protocol::signer& key;
  const protocol::trust_store& trust;
  unit_validator& validator;
  std::uint64_t validated = 0, stored = 0, refused = 0;

  // The receiver checks of service_results.cpp (signer, lease, task digest, recomputed output digest, not stored
  // yet or unit not final); true when the result may be stored.
  bool accept(const protocol::result_view& v, const std::string& signer, task_row& task) {
    const std::string task_id(v.task_id());
    auto found = must(db.find_task(task_id, v.attempt()), "find_task");
    if (v.agent_id() != signer || !found || found->agent_id != signer) return false;
    const auto declared = v.output_digest();
    const auto recomputed = protocol::output_digest(v.outputs());
    if (!std::equal(declared.begin(), declared.end(), recomputed.begin(), recomputed.end()) ||
        !std::equal(v.task_digest().begin(), v.task_digest().end(), found->task_digest.begin(),
                    found->task_digest.end()))
      return false;
    if (!must(db.find_result(task_id, v.attempt(), signer), "find_result")) {
      const auto wu = must(db.find_work_unit(found->wu_id), "find_work_unit");
      if (!wu || wu->state == work_unit_state::validated || wu->state == work_unit_state::failed) return false;
    }
    task = std::move(*found);
    return true;
  }

  // The service's result path (service_results.cpp) without MQTT: open and verify, checks, the results and the
  // validation of their units in one transaction (one synchronous commit), then the signed Receipt.
  void handle(const protocol::bytes& payload, std::uint64_t now) {
    protocol::open_options o;
    o.expected_kind = protocol::message_kind::result_batch;
    o.prefix = prefix;
    o.trust = &trust;
    auto env = must(protocol::open(payload, o), "open");
    const protocol::result_batch_view batch(env);
    auto tx = must(db.begin_batch(), "begin_batch");
    std::vector<result_row> rows;
    std::set<std::string> touched;
    protocol::receipt receipt;
    receipt.agent_id = env.signer_agent_id;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const auto v = batch.result(i);
      protocol::receipt_entry e;
      e.task_id = std::string(v.task_id());
      e.attempt = v.attempt();
      const auto digest = v.digest();
      e.result_digest.assign(digest.begin(), digest.end());
      task_row task;
      e.accepted = accept(v, env.signer_agent_id, task);
      if (e.accepted) {
        result_row r;
        r.task_id = e.task_id;
        r.attempt = e.attempt;
        r.agent_id = env.signer_agent_id;
        r.blob.assign(v.blob().begin(), v.blob().end());
        r.result_digest = digest;
        const auto declared = v.output_digest();
        std::copy(declared.begin(), declared.end(), r.output_digest.begin());
        r.received_at_ms = now;
        rows.push_back(std::move(r));
        touched.insert(task.wu_id);
      } else {
        ++refused;
      }
      receipt.entries.push_back(std::move(e));
    }
    stored += must(db.store_results(rows), "store_results").size();
    for (const auto& wu : touched)
      if (must(validator.evaluate(wu, now), "evaluate") == unit_change::validated) ++validated;
    must(tx->commit(), "commit batch");
    receipt.sent_at_ms = now;
    (void)must(protocol::seal(protocol::message_kind::receipt, protocol::build(receipt), prefix, key), "receipt");
  }
};

struct signer_choice {
  const char* name;
  std::unique_ptr<protocol::signer> signer;
  protocol::verifier_factory verifiers;
};

std::vector<signer_choice> signer_choices() {
  std::vector<signer_choice> out;
  auto k1 = must(protocol::private_key::generate(), "keygen");
  out.push_back(
      {"Mbed TLS", std::make_unique<protocol::mbedtls_signer>(std::move(k1)), protocol::mbedtls_verifier_factory()});
  auto k2 = must(protocol::private_key::generate(), "keygen");
  auto pem = must(k2.to_pem(), "pem");
  out.push_back(
      {"OpenSSL", must(protocol::openssl_signer::from_pem(pem), "openssl key"), protocol::openssl_verifier_factory()});
  return out;
}

// CPU seconds this process has used: on a machine shared with other work, the figure of what one core does.
double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// The ceiling the signatures alone put on the figure: results per CPU-second when each batch of `per_batch` results
// costs one verify (open) and one signed Receipt, and nothing else.
double signature_ceiling(const protocol::bytes& batch, const protocol::trust_store& trust, const protocol::signer& key,
                         std::size_t per_batch) {
  protocol::receipt receipt;
  receipt.agent_id = std::string(32, 'a');
  for (std::size_t i = 0; i < per_batch; ++i)
    receipt.entries.push_back({"bench/" + std::to_string(i), 1, protocol::bytes(32, 7), true, ""});
  const auto body = protocol::build(receipt);
  protocol::open_options o;
  o.expected_kind = protocol::message_kind::result_batch;
  o.prefix = prefix;
  o.trust = &trust;
  std::size_t n = 0;
  const double c0 = cpu_seconds();
  for (; n < 20 || cpu_seconds() - c0 < 0.5; ++n) {
    (void)must(protocol::open(batch, o), "open");
    (void)must(protocol::seal(protocol::message_kind::receipt, body, prefix, key), "seal receipt");
  }
  return static_cast<double>(n * per_batch) / (cpu_seconds() - c0);
}

void must_sqlite(int rc, sqlite3* db, const char* what) {
  if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) return;
  std::fprintf(stderr, "ec_bench_aggregator: raw sqlite %s: %s\n", what, sqlite3_errmsg(db));
  std::exit(1);
}

// Raw SQLite in the benchmark's folder, the floor under the figure: result-sized rows (two keys, a 200-byte blob,
// two digests) inserted 64 per transaction, WAL, synchronous=FULL (one fsync per commit, as a ResultBatch pays).
void print_sqlite_limit(const fs::path& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir);
  sqlite3* db = nullptr;
  must_sqlite(sqlite3_open((dir / "raw.db").c_str(), &db), db, "open");
  must_sqlite(sqlite3_exec(db,
                           "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE r (task_id TEXT, attempt "
                           "INTEGER, agent_id TEXT, blob BLOB, result_digest BLOB, output_digest BLOB, PRIMARY KEY "
                           "(task_id, attempt, agent_id))",
                           nullptr, nullptr, nullptr),
              db, "schema");
  sqlite3_stmt* ins = nullptr;
  must_sqlite(sqlite3_prepare_v2(db, "INSERT INTO r VALUES (?1, 1, ?2, ?3, ?4, ?5)", -1, &ins, nullptr), db, "prepare");
  const protocol::bytes blob(200, 1), digest(32, 2);
  const std::string agent(32, 'a');
  std::size_t rows = 0, commits = 0;
  const auto t0 = std::chrono::steady_clock::now();
  const double c0 = cpu_seconds();
  while (commits < 50 || seconds_since(t0) < 2.0) {
    must_sqlite(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), db, "begin");
    for (std::size_t i = 0; i < results_per_batch; ++i, ++rows) {
      const std::string task = "raw/" + std::to_string(rows);
      sqlite3_bind_text(ins, 1, task.c_str(), static_cast<int>(task.size()), SQLITE_TRANSIENT);
      sqlite3_bind_text(ins, 2, agent.c_str(), static_cast<int>(agent.size()), SQLITE_STATIC);
      sqlite3_bind_blob(ins, 3, blob.data(), static_cast<int>(blob.size()), SQLITE_STATIC);
      sqlite3_bind_blob(ins, 4, digest.data(), 32, SQLITE_STATIC);
      sqlite3_bind_blob(ins, 5, digest.data(), 32, SQLITE_STATIC);
      must_sqlite(sqlite3_step(ins), db, "insert");
      sqlite3_reset(ins);
    }
    must_sqlite(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), db, "commit");
    ++commits;
  }
  const double s = seconds_since(t0), cpu = cpu_seconds() - c0;
  sqlite3_finalize(ins);
  sqlite3_close(db);
  fs::remove_all(dir, ec);
  std::printf(
      "\nMachine limit, raw SQLite in the same folder (%zu rows per transaction, WAL, synchronous=FULL): %.0f rows/s, "
      "%.0f commits/s (%.2f ms per commit); %.0f rows per CPU-second.\n",
      results_per_batch, static_cast<double>(rows) / s, static_cast<double>(commits) / s,
      1000.0 * s / static_cast<double>(commits), static_cast<double>(rows) / cpu);
}

}  // namespace

void run_throughput(const fs::path& dir, std::size_t units) {
  std::printf("\n## Validated results per second: tiny tasks, one core, %zu results per ResultBatch, quorum 2\n\n",
              results_per_batch);
  std::printf(
      "| aggregator signer | results | units validated | wall s | results/s (wall) | CPU s | results per CPU-second "
      "| target | signatures alone, per CPU-second |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---|---:|\n");
  for (auto& choice : signer_choices()) {
    auto db = fresh_db(dir);
    const auto agents = make_agents(*db, 4);
    add_tiny_job(*db, "bench", units, 2);
    const auto batches = sign_batches(agents, lease_all(*db, agents));
    event_log log{log_level::error, [](std::string_view) {}};
    ledger_config lc;
    ledger book{*db, *choice.signer, lc};
    adaptive_trust trust{trust_config{10, 1, 0}};
    unit_validator validator{*db, book, trust, log};
    enrolled_keys keys{*db, choice.verifiers};
    pipeline p{*db, *choice.signer, keys, validator};
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = cpu_seconds();
    std::uint64_t now = 2000;
    for (const auto& b : batches) {
      p.handle(b, ++now);
      (void)must(book.maybe_checkpoint(now), "checkpoint");
    }
    const double s = seconds_since(t0), cpu = cpu_seconds() - c0;
    const double rate = static_cast<double>(p.stored) / s, cpu_rate = static_cast<double>(p.stored) / cpu;
    const double ceiling = signature_ceiling(batches.front(), keys, *choice.signer, results_per_batch);
    std::printf("| %s | %llu | %llu | %.2f | %.0f | %.2f | %.0f | >= 10,000/s %s | %.0f |\n", choice.name,
                static_cast<unsigned long long>(p.stored), static_cast<unsigned long long>(p.validated), s, rate, cpu,
                cpu_rate,
                rate >= 10000       ? "(met)"
                : cpu_rate >= 10000 ? "(met per CPU-second)"
                                    : "(not met)",
                ceiling);
    if (p.refused != 0) std::printf("(refused %llu results)\n", static_cast<unsigned long long>(p.refused));
  }
  print_sqlite_limit(dir.string() + "-raw");
}

std::unique_ptr<sqlite_storage> fresh_db(const fs::path& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir);
  sqlite_options o;
  o.path = dir / "region.db";
  return must(sqlite_storage::open(o), "open database");
}

std::vector<sim_agent> make_agents(storage& db, std::size_t n) {
  std::vector<sim_agent> out;
  std::vector<key_admission> admit;
  for (std::size_t i = 0; i < n; ++i) {
    auto key = must(protocol::private_key::generate(), "keygen");
    sim_agent a;
    a.key = std::make_unique<protocol::mbedtls_signer>(std::move(key));
    a.agent_id = protocol::agent_id_of(a.key->key().id());
    a.principal = "p" + std::to_string(i);
    admit.push_back({a.key->key().spki_der(), a.key->key().id(), a.agent_id, a.principal});
    out.push_back(std::move(a));
  }
  must(db.admit_keys(admit, principal_kind::allowlist, 1000), "admit keys");
  return out;
}

void add_tiny_job(storage& db, const std::string& job_id, std::size_t units, std::uint32_t quorum) {
  job_row j;
  j.job_id = job_id;
  j.kernel = "copy";
  j.spec = "kernel = \"copy\"\nquorum = " + std::to_string(quorum) + "\nmax_replicas = 8\n";
  j.quorum = quorum;
  j.created_at_ms = 1000;
  std::vector<work_unit_row> wus;
  wus.reserve(units);
  for (std::size_t i = 0; i < units; ++i) {
    protocol::task t;
    t.task_id = job_id + "/" + std::to_string(i);
    t.job_id = job_id;
    t.agent_id = "template";
    t.kernel = "copy";
    t.validation = protocol::validation_mode::exact;
    t.inputs.push_back({"x", protocol::dtype::u8, {16}, protocol::bytes(16, static_cast<std::uint8_t>(i))});
    t.outputs.push_back({"y", protocol::dtype::u8, {16}, {}});
    work_unit_row w;
    w.wu_id = t.task_id;
    w.job_id = job_id;
    w.payload = encode_task_template(t);
    w.replicas_wanted = quorum;
    w.cost = 1;
    wus.push_back(std::move(w));
  }
  must(db.insert_job(j, wus), "insert job");
}

}  // namespace ec::bench::agg

int main(int argc, char** argv) {
  namespace agg = ec::bench::agg;
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // tables appear as they are measured, also when piped
  agg::fs::path dir = "/tmp";
  std::size_t units = 20000, sim_units = 10000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--dir") == 0) dir = argv[i + 1];
    if (std::strcmp(argv[i], "--units") == 0) units = std::strtoull(argv[i + 1], nullptr, 10);
    if (std::strcmp(argv[i], "--sim-units") == 0) sim_units = std::strtoull(argv[i + 1], nullptr, 10);
  }
  std::printf("# ec_bench_aggregator (database under %s)\n", dir.c_str());
  agg::run_throughput(dir / "ec-bench-aggregator", units);
  // The simulation counts results, not time: its database lives in memory-backed /dev/shm when there is one.
  const agg::fs::path sim_dir = agg::fs::exists("/dev/shm") ? agg::fs::path("/dev/shm") : dir;
  agg::run_replication_simulation(sim_dir / "ec-bench-aggregator-sim", sim_units);
  return 0;
}
