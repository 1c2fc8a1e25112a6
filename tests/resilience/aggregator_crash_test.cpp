// Resilience 3 (issue 7): the edge-aggregator SIGKILLed while results are flowing and restarted on the same
// database, several times in one job. Every result committed before a kill is still there after it, no unit
// validated before a kill is validated again, and the job completes with the ledger invariant.
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>

#include "resilience_support.hpp"

namespace ec::test::res {
namespace {

constexpr const char* test_name = "aggregator-crash";

using result_key = std::tuple<std::string, std::uint32_t, std::string>;  // (task_id, attempt, agent_id)

// What the database held when the aggregator died: the committed results and each validated unit's ledger seq.
struct committed_state {
  std::set<result_key> results;
  std::map<std::string, std::uint64_t> ledger_seq_of_validated;
};

committed_state read_committed(region& r, const std::string& job) {
  committed_state s;
  auto db = r.db();
  auto units = db->list_work_units(job);
  REQUIRE(units.ok());
  for (const auto& u : *units) {
    if (u.state == aggregator::work_unit_state::validated) s.ledger_seq_of_validated[u.wu_id] = u.ledger_seq;
    auto results = db->results_for_work_unit(u.wu_id);
    REQUIRE(results.ok());
    for (const auto& x : *results) s.results.insert({x.result.task_id, x.result.attempt, x.result.agent_id});
  }
  return s;
}

// Results stored so far from every agent (one query: the region runs only this job).
std::uint64_t stored_results(region& r) {
  auto stats = r.db()->agent_throughput(0);
  REQUIRE(stats.ok());
  std::uint64_t n = 0;
  for (const auto& s : *stats) n += s.results_since;
  return n;
}

// Committed before the kill and missing now: results lost, or validated units whose ledger entry changed.
std::size_t count_lost(const committed_state& before, const committed_state& after) {
  std::size_t lost = 0;
  for (const auto& k : before.results) lost += after.results.count(k) == 0 ? 1 : 0;
  for (const auto& v : before.ledger_seq_of_validated) {
    const auto it = after.ledger_seq_of_validated.find(v.first);
    if (it == after.ledger_seq_of_validated.end() || it->second != v.second) ++lost;
  }
  return lost;
}

TEST_CASE("the aggregator SIGKILLed while results flow and restarted: nothing lost, nothing counted twice") {
  const std::size_t kills = long_variant() ? 12 : 3;
  const std::size_t units = long_variant() ? 3'000 : 320;
  auto rng = seeded_rng(test_name);
  std::uniform_int_distribution<int> down_ms(200, 1500);

  region r(3);
  for (std::size_t i = 0; i < 3; ++i) r.enroll(i, "owner-" + std::to_string(i));
  tune_for_tiny_tasks(r);
  // Tiles of a view inside the set (16 x 16 pixels, every pixel runs max_iter): each task computes for a moment,
  // so results are in flight at each kill. 40 x (units / 40) tiles.
  const auto job =
      r.submit(agg::mandelbrot_job(16 * 40, 16 * static_cast<std::uint32_t>(units / 40), 16, 2000, true, 2, 20000));
  const auto started = std::chrono::steady_clock::now();
  r.aggregator.start();
  for (std::size_t i = 0; i < 3; ++i) r.agent(i).start();

  std::vector<double> restart_to_progress_ms;
  std::size_t lost = 0;
  for (std::size_t k = 0; k < kills; ++k) {
    // Kill at a random point of the job (spread over its first 80 %), while results are arriving.
    std::uniform_int_distribution<std::size_t> at(k * units * 4 / (5 * kills), (k + 1) * units * 4 / (5 * kills));
    const auto target = at(rng);
    const bool reached =
        agg::poll_until([&] { return r.counts(job).validated >= target; }, std::chrono::seconds(120), 20ms);
    INFO(r.diagnostics());
    REQUIRE(reached);
    const auto flowing_from = stored_results(r);
    REQUIRE(agg::poll_until([&] { return stored_results(r) > flowing_from; }, std::chrono::seconds(30), 10ms));
    CHECK(r.aggregator.kill() == 128 + SIGKILL);
    const auto before = read_committed(r, job);
    const auto stored_at_kill = stored_results(r);
    CHECK(before.ledger_seq_of_validated.size() < units);  // it died mid-job

    std::this_thread::sleep_for(std::chrono::milliseconds(down_ms(rng)));  // the outage, on purpose
    const auto restart = std::chrono::steady_clock::now();
    r.aggregator.start();
    // Progress after the restart: a result stored that was not there at the kill.
    const bool progressed =
        agg::poll_until([&] { return stored_results(r) > stored_at_kill; }, std::chrono::seconds(60), 10ms);
    CHECK(progressed);
    restart_to_progress_ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - restart).count());
    lost += count_lost(before, read_committed(r, job));
  }
  const bool done = r.wait_validated(job, std::chrono::seconds(180));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  INFO(r.diagnostics());
  REQUIRE(done);
  CHECK(r.aggregator.terminate() == 0);
  CHECK(lost == 0);

  const auto f = check_ledger_invariant(r, {job}, {.min_principals = 2});
  CHECK(f.units == units);
  // Double counting: a unit with two ledger entries, or credits beyond the ledger, fails the invariant above;
  // the figure says how many units the ledger names beyond the validated ones.
  const auto double_counted = f.ledger_entries > f.validated ? f.ledger_entries - f.validated : 0;

  print_figure(test_name, "aggregator SIGKILLs and restarts", kills, "kills");
  print_figure(test_name, "lost (committed results or validations missing after a restart)", lost, "");
  print_figure(test_name, "double-counted units", double_counted, "units");
  print_figure(test_name, "restart to first new result p50", percentile(restart_to_progress_ms, 50), "ms");
  print_figure(test_name, "restart to first new result max", percentile(restart_to_progress_ms, 100), "ms");
  print_figure(test_name, "wall time", seconds, "s");
  print_ledger_figures(test_name, f);
}

}  // namespace
}  // namespace ec::test::res
