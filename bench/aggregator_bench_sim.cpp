// The adaptive-replication simulation of ec_bench_aggregator: 40 agents, each its own principal, a quarter of them
// liars, drive the real storage, lease rules and unit validator (quorum 2, trust after 10, replicate 1 in n) until
// every work unit is final. It counts results computed per unit validated and wrong canonical results left at the end
// (after the re-validation of units a caught key had validated alone).
#include <algorithm>
#include <cstdio>
#include <random>

#include "aggregator_bench.hpp"
#include "ec/aggregator/unit_validator.hpp"
#include "ec/protocol/digests.hpp"
#include "ec/protocol/mbedtls_signer.hpp"
#include "ec/protocol/sha256.hpp"

namespace ec::bench::agg {

using namespace ec::aggregator;

namespace {

constexpr std::size_t agent_count = 40;
constexpr std::size_t liar_count = 10;  // 25 %
constexpr std::uint32_t tasks_per_request = 8;

struct sim_config {
  const char* name;
  std::uint32_t replicate_one_in;
  double lie_rate;  // a liar's chance to lie on each result; liars collude (they all give the same wrong answer)
};

struct sim_outcome {
  std::uint64_t results = 0, validated = 0, failed = 0, wrong = 0, units = 0;
};

sha256_digest answer(const std::string& wu_id, bool lie) {
  return protocol::sha256_of(protocol::as_bytes(lie ? wu_id + " (colluding lie)" : wu_id));
}

template <typename T>
T ok(result<T> r) {
  if (!r) {
    std::fprintf(stderr, "ec_bench_aggregator simulation: %s\n", r.err().what().c_str());
    std::exit(1);
  }
  return std::move(r).value();
}

// One agent's turn: lease up to 8 tasks (a trusted key's never-issued units unreplicated with probability 1 - 1/n),
// answer them (a liar lies at lie_rate), store the batch, validate the units. Returns the tasks leased.
std::size_t turn(storage& db, adaptive_trust& trust, unit_validator& validator, const sim_agent& a, bool liar,
                 double lie_rate, std::mt19937_64& rng, std::uint64_t now, sim_outcome& out) {
  auto offered = ok(db.find_leasable({a.agent_id, a.principal, {"copy"}, tasks_per_request, now}));
  if (offered.empty()) return 0;
  lease_commit c;
  c.agent_id = a.agent_id;
  c.request_id = "r" + std::to_string(now);
  c.now_ms = now;
  for (const auto& o : offered) {
    task_row t;
    t.task_id = o.task_id;
    t.attempt = o.attempt;
    t.wu_id = o.wu_id;
    t.agent_id = a.agent_id;
    t.issued_at_ms = now;
    t.lease_expires_ms = now + 3'600'000;
    t.blob = protocol::bytes(t.task_id.begin(), t.task_id.end());
    t.task_digest = protocol::sha256_of(t.blob);
    t.single = trust.is_trusted(a.agent_id) && !trust.needs_replication(a.agent_id);
    c.tasks.push_back(std::move(t));
  }
  c.batch_bytes = protocol::bytes(8, 0);
  if (!ok(db.commit_leases(c)).committed) return 0;
  std::uniform_real_distribution<double> coin(0, 1);
  std::vector<result_row> rows;
  for (const auto& t : c.tasks) {
    result_row r;
    r.task_id = t.task_id;
    r.attempt = t.attempt;
    r.agent_id = a.agent_id;
    r.blob = protocol::bytes(1, 0);
    r.output_digest = answer(t.wu_id, liar && coin(rng) < lie_rate);
    r.result_digest = protocol::sha256_of(r.output_digest);
    r.received_at_ms = now;
    rows.push_back(std::move(r));
  }
  out.results += ok(db.store_results(rows)).size();
  for (const auto& t : c.tasks) (void)ok(validator.evaluate(t.wu_id, now));
  return c.tasks.size();
}

sim_outcome simulate(const fs::path& dir, std::size_t units, const sim_config& cfg) {
  auto db = fresh_db(dir);
  const auto agents = make_agents(*db, agent_count);
  add_tiny_job(*db, "sim", units, 2);
  auto key = ok(protocol::private_key::generate());
  protocol::mbedtls_signer signer(std::move(key));
  event_log log{log_level::error, [](std::string_view) {}};
  ledger book{*db, signer, ledger_config{1'000'000, 1'000'000'000}};
  adaptive_trust trust{trust_config{10, cfg.replicate_one_in, 0}, seeded_random(7)};
  unit_validator validator{*db, book, trust, log};
  std::mt19937_64 rng(11);
  std::vector<std::size_t> order(agents.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  sim_outcome out;
  std::uint64_t now = 2000;
  for (std::size_t leased = 1; leased != 0;) {
    leased = 0;
    std::shuffle(order.begin(), order.end(), rng);
    for (const auto i : order)
      leased += turn(*db, trust, validator, agents[i], i < liar_count, cfg.lie_rate, rng, ++now, out);
  }
  for (const auto& u : ok(db->list_work_units("sim"))) {
    ++out.units;
    if (u.state == work_unit_state::failed) ++out.failed;
    if (u.state != work_unit_state::validated) continue;
    ++out.validated;
    if (u.canonical_digest != answer(u.wu_id, false)) ++out.wrong;
  }
  return out;
}

}  // namespace

void run_replication_simulation(const fs::path& dir, std::size_t units) {
  std::printf(
      "\n## Adaptive replication: %zu agents (each its own principal), %zu liars (25 %%), quorum 2, "
      "trust after 10, %zu work units\n\n",
      agent_count, liar_count, units);
  std::printf(
      "| replication | liars lie on | results computed / unit validated | target | wrong canonical per 10^4 "
      "units | target | units failed |\n");
  std::printf("|---|---:|---:|---|---:|---|---:|\n");
  const sim_config configs[] = {
      {"always (1 in 1)", 1, 0.1},    {"adaptive, 1 in 10", 10, 0.1}, {"adaptive, 1 in 10", 10, 0.5},
      {"adaptive, 1 in 10", 10, 1.0}, {"always (1 in 1)", 1, 1.0},
  };
  for (const auto& c : configs) {
    const auto o = simulate(dir, units, c);
    const double overhead = o.validated ? static_cast<double>(o.results) / static_cast<double>(o.validated) : 0;
    const double wrong = o.units ? 1e4 * static_cast<double>(o.wrong) / static_cast<double>(o.units) : 0;
    std::printf("| %s | %.0f %% | %.3f | < 2 (plain quorum 2) | %.1f | 0 | %llu |\n", c.name, 100 * c.lie_rate,
                overhead, wrong, static_cast<unsigned long long>(o.failed));
  }
}

}  // namespace ec::bench::agg
