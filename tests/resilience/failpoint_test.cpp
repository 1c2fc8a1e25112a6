// Resilience 4 (issue 7): a SIGKILL at each window that matters, placed by a named failpoint (EC_FAILPOINTS):
// agent after journaling a result batch and before publishing it; agent after the aggregator's receipt arrived and
// before it is applied; agent mid-way through a journal record (a torn tail); aggregator after committing a
// ResultBatch and before sending its Receipt. Each test checks the kill landed at its failpoint, restarts the
// process unarmed, runs the job to completion and asserts the ledger invariant.
#include <signal.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <string>

#include "resilience_support.hpp"

namespace ec::test::res {
namespace {

constexpr const char* failpoints_env = "EC_FAILPOINTS";  // read by ec/common/failpoint.hpp at process start
constexpr std::size_t units = 8;                         // quorum 2: sixteen tasks, eight per agent
constexpr int sigkill_status = 128 + SIGKILL;
constexpr auto kill_timeout = std::chrono::seconds(40);
constexpr auto finish_timeout = std::chrono::seconds(45);

// The line the failpoint writes to stderr just before its SIGKILL.
std::string fired_line(const std::string& name) { return "ec-failpoint: " + name + " fired"; }

// A region with two agents of distinct principals (quorum 2) and a small copy job submitted; nothing started.
struct failpoint_region {
  region r{2};
  std::string job;
  failpoint_region() {
    r.enroll(0, "owner-0");
    r.enroll(1, "owner-1");
    job = r.submit(copy_job(units, 2));
  }
  void start_all() {
    r.aggregator.start();
    r.agent(0).start();
    r.agent(1).start();
  }
};

// A number printed by `edge-agent status` after `label`, e.g. "spool              (N) batches pending".
std::uint64_t status_number(agent_process& a, const std::string& pattern) {
  // No structured binding: clang 14 cannot capture one in INFO.
  const auto ran = a.run_cli({"status", "--config", a.config_path().string()});
  const std::string out = ran.second;
  INFO("edge-agent status: " << out);
  REQUIRE(ran.first == 0);
  std::smatch m;
  REQUIRE_MESSAGE(std::regex_search(out, m, std::regex(pattern)), "no match for " << pattern);
  return std::stoull(m[1].str());
}

std::uint64_t pending_batches(agent_process& a) { return status_number(a, R"(spool\s+(\d+) batches pending)"); }

// Result rows of agent `agent_id` stored in the region database for the job.
std::size_t stored_results_of(region& r, const std::string& job, const std::string& agent_id) {
  auto db = r.db();
  auto list = db->list_work_units(job);
  REQUIRE(list.ok());
  std::size_t n = 0;
  for (const auto& u : *list) {
    auto results = db->results_for_work_unit(u.wu_id);
    REQUIRE(results.ok());
    for (const auto& x : *results) n += x.result.agent_id == agent_id ? 1 : 0;
  }
  return n;
}

// Waits until agent 0 exits by itself; checks it was the armed failpoint's SIGKILL.
void expect_agent_killed_at(failpoint_region& f, const std::string& name) {
  auto& a = f.r.agent(0);
  const auto status = a.wait_exit(kill_timeout);
  INFO(f.r.diagnostics());
  REQUIRE_MESSAGE(status.has_value(), "agent 0 was not killed by failpoint " << name);
  CHECK(*status == sigkill_status);
  CHECK(a.log_text().find(fired_line(name)) != std::string::npos);
}

// True once the process `pid` has exited and waits to be reaped (a zombie): its status is still there to read.
bool exited(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');
  return close != std::string::npos && close + 2 < text.size() && text[close + 2] == 'Z';
}

// Restarts agent 0 unarmed and waits for the job; returns the seconds from restart to every unit validated.
double restart_agent_and_finish(failpoint_region& f) {
  f.r.agent(0).set_env(failpoints_env, "");
  const auto restarted = std::chrono::steady_clock::now();
  f.r.agent(0).start();
  const bool done = f.r.wait_validated(f.job, finish_timeout);
  INFO(f.r.diagnostics());
  REQUIRE(done);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - restarted).count();
}

// The invariant at the end, figures printed; returns them for test-specific checks.
ledger_figures finish(failpoint_region& f, const std::string& test, double recovery_s) {
  const auto figures = check_ledger_invariant(f.r, {f.job}, {.min_principals = 2});
  CHECK(figures.units == units);
  CHECK(f.r.aggregator.terminate() == 0);
  CHECK(f.r.agent(0).terminate() == 0);
  CHECK(f.r.agent(1).terminate() == 0);
  print_figure(test, "restart to every unit validated", recovery_s, "s");
  print_ledger_figures(test, figures);
  return figures;
}

TEST_CASE("agent killed after journaling a result batch, before publishing it: the batch survives, counted once") {
  const std::string test = "failpoint-after-journal-before-publish";
  failpoint_region f;
  f.r.agent(0).set_env(failpoints_env, "agent.after_journal_before_publish=kill");
  f.start_all();
  expect_agent_killed_at(f, "agent.after_journal_before_publish");
  // The window: the batch is in the spool and never reached the aggregator.
  const auto spooled = pending_batches(f.r.agent(0));
  CHECK(spooled >= 1);
  CHECK(stored_results_of(f.r, f.job, f.r.agent(0).agent_id()) == 0);
  print_figure(test, "batches spooled, unpublished at the kill", spooled, "batches");

  const double recovery_s = restart_agent_and_finish(f);
  finish(f, test, recovery_s);
}

TEST_CASE(
    "agent killed after the receipt arrived, before applying it: the republished batch is absorbed, not recounted") {
  const std::string test = "failpoint-after-publish-before-receipt";
  failpoint_region f;
  f.r.agent(0).set_env(failpoints_env, "agent.after_publish_before_receipt=kill");
  f.start_all();
  expect_agent_killed_at(f, "agent.after_publish_before_receipt");
  // The window: the aggregator stored the batch (and sent the receipt); the agent still holds it unreleased.
  const auto unreleased = pending_batches(f.r.agent(0));
  CHECK(unreleased >= 1);
  CHECK(stored_results_of(f.r, f.job, f.r.agent(0).agent_id()) >= 1);
  print_figure(test, "batches stored by the aggregator, unreleased by the agent", unreleased, "batches");

  const double recovery_s = restart_agent_and_finish(f);
  // Whether the resend reaches storage as a counted redelivery varies from run to run (measured 0 and 1; not yet
  // explained), so only the invariant is asserted here; finish() prints the figure.
  finish(f, test, recovery_s);
}

TEST_CASE("agent killed mid-way through a journal record: recovery cuts the torn tail and the job completes once") {
  const std::string test = "failpoint-journal-mid-record";
  failpoint_region f;
  // Hit 2: the first commit is the session record written before connecting; the second admits the first tasks.
  f.r.agent(0).set_env(failpoints_env, "agent.journal_mid_record=kill@2");
  f.start_all();
  expect_agent_killed_at(f, "agent.journal_mid_record");
  CHECK(f.r.agent(0).log_text().find("fired on hit 2") != std::string::npos);
  // Opening the journal (here by `edge-agent status`) finds the half record on disk and cuts it.
  const auto cut = status_number(f.r.agent(0), R"((\d+) bytes cut)");
  CHECK(cut > 0);
  CHECK(status_number(f.r.agent(0), R"((\d+) bytes cut)") == 0);  // cut once, gone
  print_figure(test, "torn tail cut at recovery", cut, "bytes");

  const double recovery_s = restart_agent_and_finish(f);
  finish(f, test, recovery_s);
}

TEST_CASE("aggregator killed after committing a result batch, before its receipt: the agent's resend is absorbed") {
  const std::string test = "failpoint-aggregator-after-commit-before-receipt";
  failpoint_region f;
  f.r.aggregator.set_env({std::string(failpoints_env) + "=aggregator.after_commit_before_receipt=kill"});
  f.start_all();
  const pid_t pid = f.r.aggregator.pid();
  const bool died = agg::poll_until([&] { return exited(pid); }, kill_timeout, 50ms);
  INFO(f.r.diagnostics());
  REQUIRE_MESSAGE(died, "the aggregator was not killed by its failpoint");
  CHECK(f.r.aggregator.terminate() == sigkill_status);  // reaps: SIGTERM to an exited process changes nothing
  CHECK(f.r.aggregator.log_text().find(fired_line("aggregator.after_commit_before_receipt")) != std::string::npos);
  // The window: one batch committed, no receipt sent, so the agent that sent it still holds it.
  const auto committed =
      stored_results_of(f.r, f.job, f.r.agent(0).agent_id()) + stored_results_of(f.r, f.job, f.r.agent(1).agent_id());
  CHECK(committed >= 1);
  print_figure(test, "results committed before the kill", committed, "results");

  f.r.aggregator.set_env({});
  const auto restarted = std::chrono::steady_clock::now();
  f.r.aggregator.start();
  const bool done = f.r.wait_validated(f.job, finish_timeout);
  INFO(f.r.diagnostics());
  REQUIRE(done);
  const double recovery_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - restarted).count();
  finish(f, test, recovery_s);  // as above: the resend is absorbed before storage
}

}  // namespace
}  // namespace ec::test::res
