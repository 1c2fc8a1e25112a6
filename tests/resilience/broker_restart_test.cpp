// Resilience 1 (issue 7): mosquitto (no persistence) SIGKILLed and restarted every few seconds while a region runs
// thousands of tiny tasks. Every work unit is validated exactly once; redeliveries are absorbed, never counted.
#include <chrono>
#include <random>
#include <string>

#include "resilience_support.hpp"

namespace ec::test::res {
namespace {

constexpr const char* test_name = "broker-restart";

TEST_CASE("mosquitto SIGKILLed and restarted every few seconds: every tiny task validated once, none lost") {
  const std::size_t units = long_variant() ? 10'000 : 2'500;  // quorum 2: two tasks per unit
  const auto timeout = long_variant() ? std::chrono::seconds(900) : std::chrono::seconds(240);
  auto rng = seeded_rng(test_name);
  std::uniform_int_distribution<int> up_ms(1500, 3500);
  std::uniform_int_distribution<int> down_ms(100, 800);

  region r(3);
  for (std::size_t i = 0; i < 3; ++i) r.enroll(i, "owner-" + std::to_string(i));
  tune_for_tiny_tasks(r);
  const auto job = r.submit(copy_job(units, 2));
  const auto started = std::chrono::steady_clock::now();
  r.aggregator.start();
  for (std::size_t i = 0; i < 3; ++i) r.agent(i).start();

  auto done = [&] { return job_done(r, job); };
  // Kill and restart until the job is done; the broker's uptime between kills is the wait on completion.
  std::size_t restarts = 0;
  std::uint64_t validated_at_first_kill = 0;
  bool finished = false;
  while (!finished && std::chrono::steady_clock::now() - started < timeout) {
    finished = agg::poll_until(done, std::chrono::milliseconds(up_ms(rng)), 100ms);
    if (finished) break;
    if (restarts == 0) validated_at_first_kill = r.counts(job).validated;
    r.broker.kill();
    // The outage: nothing to wait for, the broker is down for this long on purpose.
    std::this_thread::sleep_for(std::chrono::milliseconds(down_ms(rng)));
    r.broker.restart();
    ++restarts;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  INFO(r.diagnostics());
  REQUIRE(finished);
  // The faults landed while work was flowing, several times: otherwise this test proved nothing.
  CHECK(restarts >= 3);
  CHECK(validated_at_first_kill < units);

  const auto f = check_ledger_invariant(r, {job}, {.min_principals = 2});
  CHECK(f.units == units);
  CHECK(f.tasks_issued >= 2 * units);
  CHECK(r.aggregator.terminate() == 0);

  print_figure(test_name, "broker SIGKILLs and restarts", restarts, "restarts");
  print_figure(test_name, "tasks issued", f.tasks_issued, "tasks");
  print_figure(test_name, "wall time to validate every unit", seconds, "s");
  print_ledger_figures(test_name, f);
}

}  // namespace
}  // namespace ec::test::res
