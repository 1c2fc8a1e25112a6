// The real edge-aggregator with real agents: a lying agent (the test-only agent mode EC_TEST_LIE_RATE of hook
// builds) is caught by quorum, loses its trust and the credits it earned while trusted; and edgectl pause-all /
// resume-all reach the agents as a signed region Control that stops and restarts their work.
#include <sstream>

#include "aggregator_support.hpp"

namespace ec::test::agg {
namespace {

constexpr auto job_timeout = 180s;

// Lines of a log that hold every one of `words`.
std::size_t lines_with(const std::string& log, const std::vector<std::string>& words) {
  std::istringstream in(log);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) {
    bool all = true;
    for (const auto& w : words) all = all && line.find(w) != std::string::npos;
    n += all ? 1 : 0;
  }
  return n;
}

TEST_CASE("a lying agent is caught by quorum, loses its trust and the credits it earned while trusted") {
  // Agent 3 is the liar: honest for its first 5 results (enough to become trusted with trust_after = 3), then
  // every result lies, self-consistently signed.
  region r(4, {{3, {"EC_TEST_LIE_RATE=1", "EC_TEST_LIE_AFTER=5"}}});
  for (std::size_t i = 0; i < 3; ++i) r.enroll(i, "honest-" + std::to_string(i));
  r.enroll(3, "liar");
  r.aggregator.set("trust.trust_after", "3");
  const auto job = r.submit(mandelbrot_job(64, 64, 16, 64, false));  // 16 units
  r.aggregator.start();
  // With only two principals every unit goes to both: the liar's honest results agree and earn it trust, and its
  // lies cannot be decided (no third principal) until the other honest agents join.
  r.agent(0).start();
  r.agent(3).start();
  const std::string liar = r.agent(3).agent_id();
  const bool trusted = poll_until(
      [&] {
        auto a = r.db()->find_agent(liar);
        return a.ok() && a->has_value() && (*a)->trusted;
      },
      job_timeout);
  INFO(r.diagnostics());
  REQUIRE(trusted);
  r.agent(1).start();
  r.agent(2).start();
  const bool done = r.wait_validated(job, job_timeout);
  INFO(r.diagnostics());
  REQUIRE(done);

  auto db = r.db();
  check_against_reference(*db, job);  // no lie became canonical
  auto key = db->find_agent(liar);
  REQUIRE(key.ok());
  REQUIRE(key->has_value());
  CHECK_FALSE((*key)->trusted);
  CHECK((*key)->trust_streak == 0);
  // Caught while trusted: what it earned from the moment it became trusted was clawed back (at least the unit
  // that made it trusted); at most its first two validated units stay paid, and its lies earned nothing.
  const auto log = r.aggregator.log_text();
  CHECK(lines_with(log, {"credits clawed back", liar}) == 1);
  CHECK(lines_with(log, {"credits clawed back", liar, "amount=0"}) == 0);
  auto units = db->list_work_units(job);
  REQUIRE(units.ok());
  const auto cost = static_cast<std::int64_t>(units->front().cost);
  auto balance = db->credit_balance("liar");
  REQUIRE(balance.ok());
  CHECK(*balance >= 0);
  CHECK(*balance <= 2 * cost);
  // Its lies were outvoted: the liar's principal is in no ledger entry of a unit it lied on.
  std::size_t outvoted = 0;
  for (const auto& u : *units) {
    auto res = db->results_for_work_unit(u.wu_id);
    REQUIRE(res.ok());
    for (const auto& x : *res)
      if (x.result.agent_id == liar && x.result.status == 0 && x.result.output_digest != *u.canonical_digest)
        ++outvoted;
  }
  CHECK(outvoted >= 1);
}

TEST_CASE("edgectl pause-all stops the agents' work through a signed region Control and resume-all restarts it") {
  region r(2);
  for (std::size_t i = 0; i < 2; ++i) r.enroll(i, "owner-" + std::to_string(i));
  r.aggregator.start();
  for (std::size_t i = 0; i < 2; ++i) r.agent(i).start();
  const bool online = poll_until(
      [&] {
        auto agents = r.db()->list_agents();
        if (!agents || agents->size() != 2) return false;
        for (const auto& a : *agents)
          if (!a.online) return false;
        return true;
      },
      job_timeout);
  INFO(r.diagnostics());
  REQUIRE(online);

  REQUIRE(r.edgectl({"pause-all"}).rc == 0);
  auto applied = [&](const char* state) {
    for (std::size_t i = 0; i < 2; ++i)
      if (lines_with(r.agent(i).log_text(), {"control applied", state, "region_wide"}) == 0) return false;
    return true;
  };
  const bool paused = poll_until([&] { return applied("state=1"); }, job_timeout);
  INFO(r.diagnostics());
  REQUIRE(paused);

  // Paused agents run nothing: a job submitted now gets no result while they stay paused.
  const auto job = r.submit(mandelbrot_job(32, 32, 16, 64, false));  // 4 units
  auto any_result = [&] {
    auto db = r.db();
    auto units = db->list_work_units(job);
    if (!units) return false;
    for (const auto& u : *units) {
      auto res = db->results_for_work_unit(u.wu_id);
      if (res && !res->empty()) return true;
    }
    return false;
  };
  CHECK_FALSE(poll_until(any_result, 3s));

  REQUIRE(r.edgectl({"resume-all"}).rc == 0);
  const bool resumed = poll_until([&] { return applied("state=0"); }, job_timeout);
  INFO(r.diagnostics());
  REQUIRE(resumed);
  const bool done = r.wait_validated(job, job_timeout);
  INFO(r.diagnostics());
  REQUIRE(done);
  check_against_reference(*r.db(), job);
}

}  // namespace
}  // namespace ec::test::agg
