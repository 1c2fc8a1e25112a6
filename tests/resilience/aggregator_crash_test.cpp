// Resilience 3 (issue 7): the edge-aggregator SIGKILLed while results are flowing and restarted on the same
// database, several times while results flow. Every result committed before a kill is still there after it, no
// unit validated before a kill is validated again, and every job completes with the ledger invariant.
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

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

committed_state read_committed(region& r, const std::vector<std::string>& jobs) {
  committed_state s;
  auto db = r.db();
  for (const auto& job : jobs) {
    auto units = db->list_work_units(job);
    REQUIRE(units.ok());
    for (const auto& u : *units) {
      if (u.state == aggregator::work_unit_state::validated) s.ledger_seq_of_validated[u.wu_id] = u.ledger_seq;
      auto results = db->results_for_work_unit(u.wu_id);
      REQUIRE(results.ok());
      for (const auto& x : *results) s.results.insert({x.result.task_id, x.result.attempt, x.result.agent_id});
    }
  }
  return s;
}

// Results stored so far from every agent (one query: the region runs only these jobs).
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
  constexpr std::size_t units_per_job = 320;
  auto rng = seeded_rng(test_name);
  std::uniform_int_distribution<int> down_ms(200, 1500);
  // Kills are paced by progress, not by time or by a share of one job: a fast machine finishes a job in two
  // seconds, a loaded one in a minute. Each kill comes after a random number of new results, and the region is
  // topped up with another job whenever its open units run low, so every kill lands while results flow.
  std::uniform_int_distribution<std::uint64_t> results_before_kill(20, 160);

  region r(3);
  for (std::size_t i = 0; i < 3; ++i) r.enroll(i, "owner-" + std::to_string(i));
  tune_for_tiny_tasks(r);
  // Tiles of a view inside the set (16 x 16 pixels, every pixel runs max_iter): each task computes for a moment,
  // so results are in flight at each kill. 40 x 8 tiles per job.
  const auto next_job = [&] {
    return r.submit(agg::mandelbrot_job(16 * 40, 16 * (units_per_job / 40), 16, 2000, true, 2, 20000));
  };
  std::vector<std::string> jobs = {next_job()};
  const auto started = std::chrono::steady_clock::now();
  r.aggregator.start();
  for (std::size_t i = 0; i < 3; ++i) r.agent(i).start();

  std::vector<double> restart_to_progress_ms;
  std::size_t lost = 0;
  std::uint64_t stored_at_restart = 0;
  for (std::size_t k = 0; k < kills; ++k) {
    const auto target = stored_at_restart + results_before_kill(rng);
    const bool reached = agg::poll_until(
        [&] {
          const auto c = r.counts(jobs.back());
          if (c.pending + c.running < units_per_job / 2) jobs.push_back(next_job());
          return stored_results(r) >= target;
        },
        std::chrono::seconds(120), 10ms);
    INFO(r.diagnostics());
    REQUIRE(reached);
    CHECK(r.aggregator.kill() == 128 + SIGKILL);
    const auto before = read_committed(r, jobs);
    const auto stored_at_kill = stored_results(r);
    CHECK(before.ledger_seq_of_validated.size() < units_per_job * jobs.size());  // it died mid-work

    std::this_thread::sleep_for(std::chrono::milliseconds(down_ms(rng)));  // the outage, on purpose
    const auto restart = std::chrono::steady_clock::now();
    r.aggregator.start();
    // Progress after the restart: a result stored that was not there at the kill.
    const bool progressed =
        agg::poll_until([&] { return stored_results(r) > stored_at_kill; }, std::chrono::seconds(60), 10ms);
    CHECK(progressed);
    restart_to_progress_ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - restart).count());
    lost += count_lost(before, read_committed(r, jobs));
    stored_at_restart = stored_results(r);
  }
  bool done = true;
  for (const auto& job : jobs) done = done && r.wait_validated(job, std::chrono::seconds(180));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  INFO(r.diagnostics());
  REQUIRE(done);
  CHECK(r.aggregator.terminate() == 0);
  CHECK(lost == 0);

  const auto f = check_ledger_invariant(r, jobs, {.min_principals = 2});
  CHECK(f.units == units_per_job * jobs.size());
  // Double counting: a unit with two ledger entries, or credits beyond the ledger, fails the invariant above;
  // the figure says how many units the ledger names beyond the validated ones.
  const auto double_counted = f.ledger_entries > f.validated ? f.ledger_entries - f.validated : 0;

  print_figure(test_name, "aggregator SIGKILLs and restarts", kills, "kills");
  print_figure(test_name, "jobs submitted (one more whenever open units ran low)", jobs.size(), "jobs");
  print_figure(test_name, "lost (committed results or validations missing after a restart)", lost, "");
  print_figure(test_name, "double-counted units", double_counted, "units");
  print_figure(test_name, "restart to first new result p50", percentile(restart_to_progress_ms, 50), "ms");
  print_figure(test_name, "restart to first new result max", percentile(restart_to_progress_ms, 100), "ms");
  print_figure(test_name, "wall time", seconds, "s");
  print_ledger_figures(test_name, f);
}

}  // namespace
}  // namespace ec::test::res
