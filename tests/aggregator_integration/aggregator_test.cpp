// The real edge-aggregator with real edge-agent processes: quorum across principals, reassignment after an agent
// dies, and an aggregator SIGKILLed mid-job that loses nothing and counts nothing twice.
#include <set>

#include "aggregator_support.hpp"
#include "ec/aggregator/ledger.hpp"

namespace ec::test::agg {
namespace {

constexpr auto job_timeout = 180s;

// Every validated unit has one ledger entry, and every entry names a distinct unit of the job.
void check_ledger_once(aggregator::sqlite_storage& db, const std::string& job_id, std::size_t units,
                       std::size_t min_principals) {
  auto entries = db.ledger_entries(1, 1'000'000);
  REQUIRE(entries.ok());
  std::set<std::string> seen;
  for (const auto& e : *entries) {
    if (e.wu_id.rfind(job_id + "/", 0) != 0) continue;
    const std::string wu = e.wu_id;
    INFO("ledger entry for " << wu);
    CHECK(seen.insert(e.wu_id).second);
    CHECK(e.principals.size() >= min_principals);
  }
  CHECK(seen.size() == units);
}

TEST_CASE("a job completes with quorum 2 over three real agents and matches the CPU reference") {
  region r(3);
  for (std::size_t i = 0; i < 3; ++i) r.enroll(i, "owner-" + std::to_string(i));
  const auto job = r.submit(mandelbrot_job(64, 48, 16, 64, false));
  r.aggregator.start();
  for (std::size_t i = 0; i < 3; ++i) r.agent(i).start();
  const bool done = r.wait_validated(job, job_timeout);
  INFO(r.diagnostics());
  REQUIRE(done);
  auto db = r.db();
  const auto c = r.counts(job);
  CHECK(c.validated == 12);  // 64x48 in 16x16 tiles
  check_against_reference(*db, job);
  check_ledger_once(*db, job, 12, 2);

  // edgectl: status, results written to a folder, and the ledger verifies with the aggregator's checkpoints.
  const auto status = r.edgectl({"status", job});
  CHECK(status.rc == 0);
  CHECK(status.out.find("validated 12") != std::string::npos);
  const auto out = r.folder.path / "results";
  const auto res = r.edgectl({"results", job, "--out", out.string()});
  CHECK(res.rc == 0);
  CHECK(fs::exists(out / "manifest.tsv"));
  CHECK(fs::exists(out / "0.counts.bin"));
  CHECK(r.aggregator.terminate() == 0);  // SIGTERM: clean stop with a final checkpoint
  const auto verify = r.edgectl({"--key", r.aggregator.key_path().string() + ".pub", "ledger", "verify"});
  INFO(verify.out << verify.err);
  CHECK(verify.rc == 0);
  CHECK(verify.out.find("ledger ok: 12 entries") != std::string::npos);
}

TEST_CASE("three agents enrolled with one token are one principal and cannot form a quorum alone") {
  region r(4);
  // One token with room for three keys: the three agents are one principal.
  const auto t = r.edgectl({"enroll", "--principal", "single-owner", "--keys", "3"});
  REQUIRE(t.rc == 0);
  auto token = t.out;
  while (!token.empty() && token.back() == '\n') token.pop_back();
  for (std::size_t i = 0; i < 3; ++i) r.agent(i).set("agent.enrollment_token", toml_string(token));
  r.enroll(3, "second-owner");
  const auto job = r.submit(mandelbrot_job(32, 32, 16, 64, false));  // 4 units
  r.aggregator.start();
  for (std::size_t i = 0; i < 3; ++i) r.agent(i).start();

  // Every unit gets exactly one replica from the single principal; the second replica is never given to it.
  const bool one_each = poll_until(
      [&] {
        auto db = r.db();
        auto units = db->list_work_units(job);
        if (!units || units->size() != 4) return false;
        for (const auto& u : *units) {
          auto res = db->results_for_work_unit(u.wu_id);
          if (!res || res->empty()) return false;
        }
        return true;
      },
      job_timeout);
  INFO(r.diagnostics());
  REQUIRE(one_each);
  // The three agents keep asking (held long-polls): let the aggregator hold several more of their requests, so
  // that it had every chance to hand out a second replica, before checking that it never did.
  auto held_count = [&] {
    const auto log = r.aggregator.log_text();
    std::size_t n = 0;
    for (auto at = log.find("request held"); at != std::string::npos; at = log.find("request held", at + 1)) ++n;
    return n;
  };
  const auto held_before = held_count();
  CHECK(poll_until([&] { return held_count() >= held_before + 6; }, 60s));
  const auto agents_before = r.edgectl({"agents"});
  CHECK(agents_before.out.find("single-owner") != std::string::npos);
  {
    auto db = r.db();
    const auto c = r.counts(job);
    CHECK(c.validated == 0);
    auto units = db->list_work_units(job);
    REQUIRE(units.ok());
    for (const auto& u : *units) {
      auto res = db->results_for_work_unit(u.wu_id);
      REQUIRE(res.ok());
      CHECK(res->size() == 1);
      for (const auto& x : *res) CHECK(x.principal == "single-owner");
      auto tasks = db->tasks_for_work_unit(u.wu_id);
      REQUIRE(tasks.ok());
      for (const auto& task : *tasks) CHECK(task.principal == "single-owner");
    }
    auto ledger = db->ledger_head();
    REQUIRE(ledger.ok());
    CHECK_FALSE(ledger->has_value());
  }
  // A second principal joins: now every unit reaches its quorum of two distinct principals.
  r.agent(3).start();
  const bool done = r.wait_validated(job, job_timeout);
  INFO(r.diagnostics());
  REQUIRE(done);
  auto db = r.db();
  check_against_reference(*db, job);
  check_ledger_once(*db, job, 4, 2);
}

TEST_CASE("an agent SIGKILLed mid-job has its leased tasks reassigned and the job completes") {
  region r(3);
  for (std::size_t i = 0; i < 3; ++i) r.enroll(i, "owner-" + std::to_string(i));
  // Heavy tiles (every pixel inside the set) so that the victim still holds leases when it is killed.
  const auto job = r.submit(mandelbrot_job(256, 256, 64, 50000, true, 2, 20000));  // 16 units
  r.aggregator.start();
  r.agent(0).start();
  const std::string victim = r.agent(0).agent_id();
  auto leased_by_victim = [&] {
    auto db = r.db();
    auto units = db->list_work_units(job);
    std::size_t n = 0;
    if (!units) return n;
    for (const auto& u : *units) {
      auto tasks = db->tasks_for_work_unit(u.wu_id);
      if (!tasks) continue;
      for (const auto& t : *tasks)
        if (t.agent_id == victim && t.state == aggregator::task_state::leased) ++n;
    }
    return n;
  };
  const bool leased = poll_until([&] { return leased_by_victim() > 0; }, job_timeout, 20ms);
  INFO(r.diagnostics());
  REQUIRE(leased);
  r.agent(0).kill();
  const auto held = leased_by_victim();
  REQUIRE(held > 0);  // it died holding leases

  r.agent(1).start();
  r.agent(2).start();
  const bool done = r.wait_validated(job, job_timeout);
  INFO(r.diagnostics());
  REQUIRE(done);
  auto db = r.db();
  // The victim's leases expired and their slots were taken again with attempt + 1 by the live agents.
  std::size_t reissued = 0;
  auto units = db->list_work_units(job);
  REQUIRE(units.ok());
  for (const auto& u : *units) {
    auto tasks = db->tasks_for_work_unit(u.wu_id);
    REQUIRE(tasks.ok());
    for (const auto& t : *tasks) {
      if (t.agent_id == victim) CHECK(t.state != aggregator::task_state::leased);
      if (t.attempt >= 2) ++reissued;
    }
  }
  CHECK(reissued >= held);
  check_against_reference(*db, job);
  check_ledger_once(*db, job, 16, 2);
}

TEST_CASE("the aggregator SIGKILLed mid-job and restarted loses no committed result and double-counts nothing") {
  region r(3);
  for (std::size_t i = 0; i < 3; ++i) r.enroll(i, "owner-" + std::to_string(i));
  const auto job = r.submit(mandelbrot_job(192, 192, 32, 40000, true, 2, 20000));  // 36 units
  r.aggregator.start();
  for (std::size_t i = 0; i < 3; ++i) r.agent(i).start();
  const bool some = poll_until([&] { return r.counts(job).validated >= 6; }, job_timeout, 50ms);
  INFO(r.diagnostics());
  REQUIRE(some);
  r.aggregator.kill();

  // What was committed when it died.
  std::set<std::tuple<std::string, std::uint32_t, std::string>> committed;
  std::uint64_t validated_before = 0;
  {
    auto db = r.db();
    auto units = db->list_work_units(job);
    REQUIRE(units.ok());
    for (const auto& u : *units) {
      validated_before += u.state == aggregator::work_unit_state::validated ? 1 : 0;
      auto res = db->results_for_work_unit(u.wu_id);
      REQUIRE(res.ok());
      for (const auto& x : *res) committed.insert({x.result.task_id, x.result.attempt, x.result.agent_id});
    }
  }
  CHECK(validated_before < 36);  // it died mid-job

  r.aggregator.start();
  const bool done = r.wait_validated(job, job_timeout);
  INFO(r.diagnostics());
  REQUIRE(done);
  CHECK(r.aggregator.terminate() == 0);

  auto db = r.db();
  // No committed result was lost.
  std::set<std::tuple<std::string, std::uint32_t, std::string>> after;
  std::map<std::string, std::uint64_t> cost;
  auto units = db->list_work_units(job);
  REQUIRE(units.ok());
  for (const auto& u : *units) {
    cost[u.wu_id] = u.cost;
    auto res = db->results_for_work_unit(u.wu_id);
    REQUIRE(res.ok());
    for (const auto& x : *res) after.insert({x.result.task_id, x.result.attempt, x.result.agent_id});
  }
  for (const auto& k : committed) CHECK(after.count(k) == 1);
  // Every unit validated exactly once, and credits paid once per agreeing principal per unit.
  check_ledger_once(*db, job, 36, 2);
  auto entries = db->ledger_entries(1, 1'000'000);
  REQUIRE(entries.ok());
  std::int64_t owed = 0;
  for (const auto& e : *entries) owed += static_cast<std::int64_t>(e.principals.size() * cost[e.wu_id]);
  std::int64_t paid = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    auto b = db->credit_balance("owner-" + std::to_string(i));
    REQUIRE(b.ok());
    paid += *b;
  }
  CHECK(paid == owed);
  check_against_reference(*db, job);
  const auto verify = r.edgectl({"--key", r.aggregator.key_path().string() + ".pub", "ledger", "verify"});
  INFO(verify.out << verify.err);
  CHECK(verify.rc == 0);
}

}  // namespace
}  // namespace ec::test::agg
