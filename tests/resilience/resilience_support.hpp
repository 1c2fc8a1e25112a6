// Shared pieces of the resilience suite (issue 7): the ledger invariant every test asserts at its end (every work
// unit validated exactly once, no result lost, none counted twice), one-line figures the docs gather, the long
// variant switch and a seeded random source whose seed is printed.
//
// Signatures here are stable (other tests include this header): add, do not change.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "aggregator_support.hpp"
#include "ec/aggregator/ledger.hpp"

namespace ec::test::res {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using agg::region;

/// Counts gathered while checking the ledger invariant (figures for the docs).
struct ledger_figures {
  std::uint64_t units = 0;                // work units of the checked jobs
  std::uint64_t validated = 0;            // of them, validated
  std::uint64_t ledger_entries = 0;       // ledger entries naming a unit of the checked jobs
  std::uint64_t results_received = 0;     // stored result rows (distinct (task_id, attempt, agent_id))
  std::uint64_t ok_results = 0;           // of them, with status Ok
  std::uint64_t duplicates_absorbed = 0;  // redeliveries of a stored result, counted and not stored again
  std::uint64_t tasks_issued = 0;         // task rows: every attempt of every replica slot
  std::uint64_t reissued = 0;             // task rows with attempt >= 2 (a slot leased again: expiry or release)
  std::uint64_t expired = 0;              // task rows whose lease ran out
  std::uint64_t wasted_results = 0;       // stored results whose attempt was not the one counted (late or freed)
};

/// What check_ledger_invariant() checks beyond the per-unit rules.
struct invariant_options {
  /// Distinct agreeing principals each ledger entry must name (the jobs' quorum).
  std::size_t min_principals = 1;
  /// Check every principal's credit balance against the ledger (only valid when the whole database is the
  /// checked jobs, with no claw-backs, ringers or manual grants: the default region in these tests).
  bool check_credits = true;
  /// Run `edgectl ledger verify` with the aggregator's public key (may run while the aggregator runs).
  bool verify_with_edgectl = true;
};

namespace detail {

// Units of one job: every one validated once, with its ledger entry and a stored Ok result behind its canonical
// digest from enough distinct principals.
inline void check_job_units(aggregator::sqlite_storage& db, const std::string& job_id,
                            const std::map<std::string, aggregator::ledger_entry>& entry_of_unit,
                            const invariant_options& options, ledger_figures& f) {
  auto units = db.list_work_units(job_id);
  REQUIRE_MESSAGE(units.ok(), "list_work_units " << job_id);
  CHECK_MESSAGE(!units->empty(), "job " << job_id << " has no work units");
  for (const auto& u : *units) {
    const std::string wu = u.wu_id;
    ++f.units;
    CHECK_MESSAGE(u.state == aggregator::work_unit_state::validated,
                  wu << " is " << aggregator::to_string(u.state) << ", not validated");
    if (u.state != aggregator::work_unit_state::validated) continue;
    ++f.validated;
    CHECK_MESSAGE(u.canonical_digest.has_value(), wu << " validated without a canonical digest");
    const auto entry = entry_of_unit.find(wu);
    CHECK_MESSAGE(entry != entry_of_unit.end(), wu << " validated without a ledger entry");
    if (entry != entry_of_unit.end()) {
      CHECK_MESSAGE(u.ledger_seq == entry->second.seq, wu << " points at ledger seq " << u.ledger_seq);
      if (u.canonical_digest) {
        CHECK_MESSAGE(entry->second.canonical_digest == *u.canonical_digest, wu << ": ledger digest differs");
      }
      CHECK_MESSAGE(entry->second.principals.size() >= options.min_principals,
                    wu << " ledger entry names " << entry->second.principals.size() << " principals");
    }
    auto tasks = db.tasks_for_work_unit(wu);
    REQUIRE(tasks.ok());
    // (task_id, attempt) -> state, to tell the counted result of a slot from a late one.
    std::map<std::pair<std::string, std::uint32_t>, aggregator::task_state> task_state;
    for (const auto& t : *tasks) {
      ++f.tasks_issued;
      if (t.attempt >= 2) ++f.reissued;
      if (t.state == aggregator::task_state::expired) ++f.expired;
      task_state[{t.task_id, t.attempt}] = t.state;
    }
    auto results = db.results_for_work_unit(wu);
    REQUIRE(results.ok());
    std::set<std::pair<std::string, std::uint32_t>> slots_with_result;
    std::set<std::string> canonical_principals;
    for (const auto& r : *results) {
      ++f.results_received;
      f.duplicates_absorbed += r.result.redelivery_count;
      const auto key = std::make_pair(r.result.task_id, r.result.attempt);
      // One result per (task_id, attempt): two stored results for one attempt would be counted twice.
      CHECK_MESSAGE(slots_with_result.insert(key).second,
                    wu << ": two results stored for " << key.first << " attempt " << key.second);
      const auto st = task_state.find(key);
      CHECK_MESSAGE(st != task_state.end(), wu << ": result for unknown task " << key.first << "/" << key.second);
      if (r.result.status != 0) continue;
      ++f.ok_results;
      if (st == task_state.end() || st->second != aggregator::task_state::returned) ++f.wasted_results;
      if (u.canonical_digest && r.result.output_digest == *u.canonical_digest) {
        canonical_principals.insert(r.principal);
      }
    }
    // The canonical result is stored (not lost) and backed by every principal the ledger names.
    CHECK_MESSAGE(!canonical_principals.empty(), wu << ": no stored Ok result carries the canonical digest");
    if (entry != entry_of_unit.end()) {
      for (const auto& p : entry->second.principals) {
        CHECK_MESSAGE(canonical_principals.count(p) == 1, wu << ": ledger names " << p << " without its result");
      }
    }
  }
}

// Every principal's balance is what the ledger owes it: cost of each unit whose entry names it, once.
inline void check_credits(aggregator::sqlite_storage& db, const std::vector<aggregator::ledger_entry>& entries) {
  std::map<std::string, std::uint64_t> cost_of_unit;
  std::map<std::string, std::int64_t> owed;
  for (const auto& e : entries) {
    auto u = db.find_work_unit(e.wu_id);
    REQUIRE(u.ok());
    REQUIRE_MESSAGE(u->has_value(), "ledger entry for unknown unit " << e.wu_id);
    for (const auto& p : e.principals) owed[p] += static_cast<std::int64_t>((*u)->cost);
  }
  auto agents = db.list_agents();
  REQUIRE(agents.ok());
  std::set<std::string> principals;
  for (const auto& a : *agents) principals.insert(a.principal);
  for (const auto& o : owed) principals.insert(o.first);
  for (const auto& p : principals) {
    auto balance = db.credit_balance(p);
    REQUIRE(balance.ok());
    const auto expected = owed.count(p) != 0 ? owed.at(p) : 0;
    CHECK_MESSAGE(*balance == expected, "principal " << p << " holds " << *balance << " credits, owed " << expected);
  }
}

}  // namespace detail

/// Asserts the ledger invariant over the jobs in the database at `database` (doctest CHECKs): every work unit is
/// validated exactly once with one ledger entry and its canonical result stored, no (task_id, attempt) has two
/// results, no unit has two ledger entries, credits match the ledger, and `edgectl ledger verify` passes with the
/// aggregator's public key `aggregator_public_key` (a PEM file). Returns the counts for figures.
inline ledger_figures check_ledger_invariant(const fs::path& database, const fs::path& aggregator_public_key,
                                             const std::vector<std::string>& job_ids,
                                             const invariant_options& options = {}) {
  ledger_figures f;
  aggregator::sqlite_options o;
  o.path = database;
  o.create = false;
  auto opened = aggregator::sqlite_storage::open(o);
  REQUIRE_MESSAGE(opened.ok(), (opened.ok() ? std::string() : opened.err().what()));
  auto db = std::move(opened).value();

  auto entries = db->ledger_entries(1, 100'000'000);
  REQUIRE(entries.ok());
  std::set<std::string> jobs(job_ids.begin(), job_ids.end());
  std::map<std::string, aggregator::ledger_entry> entry_of_unit;
  std::set<std::string> units_in_ledger;
  for (const auto& e : *entries) {
    const std::string wu = e.wu_id;
    // A unit appears in the ledger once: a second entry would pay its principals twice.
    CHECK_MESSAGE(units_in_ledger.insert(wu).second, wu << " has two ledger entries (seq " << e.seq << ")");
    const auto sorted = aggregator::canonical_principals(e.principals);
    CHECK_MESSAGE(sorted == e.principals, wu << ": ledger principals not sorted and distinct");
    const auto slash = wu.find('/');
    if (slash != std::string::npos && jobs.count(wu.substr(0, slash)) != 0) {
      ++f.ledger_entries;
      entry_of_unit.emplace(wu, e);
    }
  }
  for (const auto& job : job_ids) detail::check_job_units(*db, job, entry_of_unit, options, f);
  CHECK(f.ledger_entries == f.validated);
  CHECK(f.validated == f.units);
  if (options.check_credits) detail::check_credits(*db, *entries);
  db.reset();

  if (options.verify_with_edgectl) {
    const auto r = agg::run_program(
        {EC_EDGECTL_BINARY, "--db", database.string(), "--key", aggregator_public_key.string(), "ledger", "verify"},
        database.parent_path());
    INFO("edgectl ledger verify: " << r.out << r.err);
    CHECK(r.rc == 0);
    CHECK(r.out.find("ledger ok: " + std::to_string(entries->size()) + " entries") != std::string::npos);
  }
  return f;
}

/// check_ledger_invariant() on a region's database with its aggregator's key.
inline ledger_figures check_ledger_invariant(region& r, const std::vector<std::string>& job_ids,
                                             const invariant_options& options = {}) {
  return check_ledger_invariant(r.aggregator.database(), r.aggregator.key_path().string() + ".pub", job_ids, options);
}

/// Prints one line `FIGURE <test> | <name> | <value> <unit>` to stdout (docs/reliability.md gathers these).
template <typename Value>
void print_figure(const std::string& test, const std::string& name, const Value& value, const std::string& unit) {
  std::ostringstream line;
  line << "FIGURE " << test << " | " << name << " | " << value << " " << unit << "\n";
  std::cout << line.str() << std::flush;
}

/// Prints the usual ledger figures of a test (units, results, duplicates absorbed, re-issued, lost = 0 checked).
inline void print_ledger_figures(const std::string& test, const ledger_figures& f) {
  print_figure(test, "work units validated", f.validated, "of " + std::to_string(f.units));
  print_figure(test, "lost", f.units - f.validated, "units");
  print_figure(test, "results received", f.results_received, "results");
  print_figure(test, "duplicates received and absorbed", f.duplicates_absorbed, "redeliveries");
  print_figure(test, "tasks re-issued (attempt >= 2)", f.reissued, "tasks");
  print_figure(test, "results not counted (late or freed attempt)", f.wasted_results, "results");
}

/// A copy job of `units` work units of `rows` u32 each (4 rows: 16 bytes, the cost is the messaging, not the
/// kernel), validated exactly by `quorum` distinct principals.
inline std::string copy_job(std::size_t units, std::uint32_t quorum, std::size_t rows = 4) {
  return "name = \"resilience-copy\"\nkernel = \"copy\"\nquorum = " + std::to_string(quorum) +
         "\nmax_runtime_ms = 5000\n\n[inputs]\ngenerate = { dims = [" + std::to_string(units * rows) +
         "], seed = 7 }\n\n[split]\nkind = \"rows\"\nrows = " + std::to_string(rows) + "\n";
}

/// Region settings for throughput with tiny tasks (call before starting): big batches from the first request,
/// deep agent prefetch, info logs (debug logs of thousands of tasks slow the run down).
inline void tune_for_tiny_tasks(region& r) {
  r.aggregator.set("log.level", agg::toml_string("info"));
  r.aggregator.set("work.initial_seconds_per_task", "0.002");
  r.aggregator.set("work.target_batch_seconds", "0.5");
  for (auto& a : r.agents) {
    a->set("agent.max_tasks", "128");
    a->set("agent.result_batch_max", "64");
    a->set("log.level", agg::toml_string("info"));
  }
}

/// True when every work unit of the job is validated (none pending, running or failed).
inline bool job_done(region& r, const std::string& job_id) {
  const auto c = r.counts(job_id);
  return c.pending + c.running + c.failed == 0 && c.validated > 0;
}

/// True when EC_RESILIENCE_LONG=1: run the long variants (more tasks, more kills).
inline bool long_variant() {
  const char* v = std::getenv("EC_RESILIENCE_LONG");
  return v != nullptr && std::string(v) == "1";
}

/// A random source seeded from EC_RESILIENCE_SEED or the clock; prints the seed so a failure can be replayed.
inline std::mt19937_64 seeded_rng(const std::string& test) {
  std::uint64_t seed = 0;
  if (const char* s = std::getenv("EC_RESILIENCE_SEED"); s != nullptr) {
    seed = std::strtoull(s, nullptr, 10);
  } else {
    seed = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }
  print_figure(test, "seed (EC_RESILIENCE_SEED to replay)", seed, "");
  return std::mt19937_64(seed);
}

/// The p-th percentile (0..100, nearest rank) of `values`; 0 for none.
inline double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
  return values.at(std::min(values.size() - 1, rank == 0 ? 0 : rank - 1));
}

}  // namespace ec::test::res
