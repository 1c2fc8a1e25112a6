// Resilience 2 (issue 7): agents SIGKILLed at random moments, dozens of times, and restarted on their state
// folders. Nothing is lost (the journal re-runs what was admitted, the spool republishes what was not receipted,
// expired leases are issued again) and nothing is counted twice; each restart's time to its first result is
// measured at the aggregator.
#include <chrono>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "resilience_support.hpp"

namespace ec::test::res {
namespace {

constexpr const char* test_name = "agent-crash";

std::uint64_t wall_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

// One restart of one agent: when it was started again (aggregator clock = this machine's wall clock).
struct restart_record {
  std::size_t agent = 0;
  std::uint64_t restarted_at_ms = 0;
};

// Results the aggregator stored from each agent at or after `since_ms` (one query for all agents).
std::map<std::string, std::uint64_t> results_since(region& r, std::uint64_t since_ms) {
  std::map<std::string, std::uint64_t> n;
  auto stats = r.db()->agent_throughput(since_ms);
  REQUIRE(stats.ok());
  for (const auto& s : *stats) n[s.agent_id] = s.results_since;
  return n;
}

// Receipt times of every stored result per agent (sorted), read once at the end for the restart latencies.
std::map<std::string, std::vector<std::uint64_t>> result_times(region& r, const std::vector<std::string>& jobs) {
  std::map<std::string, std::vector<std::uint64_t>> times;
  auto db = r.db();
  for (const auto& job : jobs) {
    auto units = db->list_work_units(job);
    REQUIRE(units.ok());
    for (const auto& u : *units) {
      auto results = db->results_for_work_unit(u.wu_id);
      REQUIRE(results.ok());
      for (const auto& x : *results) times[x.result.agent_id].push_back(x.result.received_at_ms);
    }
  }
  for (auto& t : times) std::sort(t.second.begin(), t.second.end());
  return times;
}

// Restart -> first result recorded after it, per restart (ms); restarts with none are left out and counted.
std::vector<double> restart_latencies(region& r, const std::vector<restart_record>& restarts,
                                      const std::vector<std::string>& jobs, std::size_t& without_result) {
  const auto times = result_times(r, jobs);
  std::vector<double> ms;
  without_result = 0;
  for (const auto& rr : restarts) {
    const auto it = times.find(r.agent(rr.agent).agent_id());
    if (it == times.end()) {
      ++without_result;
      continue;
    }
    const auto first = std::lower_bound(it->second.begin(), it->second.end(), rr.restarted_at_ms);
    if (first == it->second.end()) {
      ++without_result;
      continue;
    }
    ms.push_back(static_cast<double>(*first - rr.restarted_at_ms));
  }
  return ms;
}

// Tasks each agent process re-ran from its journal at start ("restart_reruns" in its "agent ready" log line).
std::uint64_t journal_reruns(region& r) {
  std::uint64_t n = 0;
  for (auto& a : r.agents) {
    const auto log = a->log_text();
    for (auto at = log.find("restart_reruns="); at != std::string::npos; at = log.find("restart_reruns=", at + 1))
      n += std::strtoull(log.c_str() + at + 15, nullptr, 10);
  }
  return n;
}

TEST_CASE("agents SIGKILLed at random moments and restarted: every unit validated once, none lost") {
  const std::size_t kill_target = long_variant() ? 300 : 50;
  const auto budget = long_variant() ? std::chrono::seconds(1200) : std::chrono::seconds(180);
  constexpr std::size_t agent_count = 4;
  auto rng = seeded_rng(test_name);
  std::uniform_int_distribution<int> between_kills_ms(150, 900);
  std::uniform_int_distribution<int> down_ms(0, 300);
  std::uniform_int_distribution<std::size_t> pick(0, agent_count - 1);

  region r(agent_count);
  for (std::size_t i = 0; i < agent_count; ++i) r.enroll(i, "owner-" + std::to_string(i));
  tune_for_tiny_tasks(r);
  for (auto& a : r.agents) a->set("agent.max_tasks", "16");  // queued tasks at every kill, not hundreds
  // Tiles of a view inside the set: each task computes for a moment, so kills land on running tasks too.
  const auto next_job = [&] { return r.submit(agg::mandelbrot_job(128, 128, 16, 3000, true, 2, 20000)); };
  std::vector<std::string> jobs = {next_job()};
  const auto started = std::chrono::steady_clock::now();
  r.aggregator.start();
  for (std::size_t i = 0; i < agent_count; ++i) r.agent(i).start();

  std::vector<std::uint64_t> last_start_ms(agent_count, wall_ms());
  std::vector<restart_record> restarts;
  while (restarts.size() < kill_target && std::chrono::steady_clock::now() - started < budget) {
    // A random moment, then a random agent among those that have delivered since their last start (so every
    // restart gets its first-result sample before the same agent dies again).
    std::this_thread::sleep_for(std::chrono::milliseconds(between_kills_ms(rng)));
    std::vector<std::size_t> eligible;
    for (std::size_t i = 0; i < agent_count; ++i) {
      const auto per_agent = results_since(r, last_start_ms[i]);
      const auto it = per_agent.find(r.agent(i).agent_id());
      if (it != per_agent.end() && it->second > 0) eligible.push_back(i);
    }
    if (eligible.empty()) continue;
    const auto victim = eligible[pick(rng) % eligible.size()];
    CHECK(r.agent(victim).kill() == 128 + SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(down_ms(rng)));
    last_start_ms[victim] = wall_ms();
    r.agent(victim).start();
    restarts.push_back({victim, last_start_ms[victim]});
    // Keep work flowing until the last kill: a new job when the open units run low.
    const auto c = r.counts(jobs.back());
    if (c.pending + c.running < 24) jobs.push_back(next_job());
  }
  INFO(r.diagnostics());
  CHECK(restarts.size() >= kill_target);
  // Every agent's last restart delivers too: on a fast machine the open work can run out before a just-restarted
  // agent gets a lease, so work stays topped up until each agent has a result since its last start.
  const bool all_delivered = agg::poll_until(
      [&] {
        const auto c = r.counts(jobs.back());
        if (c.pending + c.running < 24) jobs.push_back(next_job());
        for (std::size_t i = 0; i < agent_count; ++i) {
          const auto per_agent = results_since(r, last_start_ms[i]);
          const auto it = per_agent.find(r.agent(i).agent_id());
          if (it == per_agent.end() || it->second == 0) return false;
        }
        return true;
      },
      std::chrono::seconds(120), 20ms);
  CHECK(all_delivered);

  bool done = true;
  for (const auto& job : jobs) done = done && r.wait_validated(job, std::chrono::seconds(120));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  REQUIRE(done);

  std::size_t without_result = 0;
  const auto latencies = restart_latencies(r, restarts, jobs, without_result);
  // Every restart delivered again (the last ones at least before the jobs finished).
  CHECK(without_result == 0);
  const auto f = check_ledger_invariant(r, jobs, {.min_principals = 2});
  CHECK(r.aggregator.terminate() == 0);

  print_figure(test_name, "agent SIGKILLs and restarts", restarts.size(), "kills");
  print_figure(test_name, "jobs submitted (one more whenever open units ran low)", jobs.size(), "jobs");
  print_figure(test_name, "wall time", seconds, "s");
  print_figure(test_name, "tasks re-run from the journal after a restart", journal_reruns(r), "tasks");
  print_figure(test_name, "restart to first result p50", percentile(latencies, 50), "ms");
  print_figure(test_name, "restart to first result p99", percentile(latencies, 99), "ms");
  print_figure(test_name, "restart to first result max", percentile(latencies, 100), "ms");
  print_ledger_figures(test_name, f);
}

}  // namespace
}  // namespace ec::test::res
