// ec_demo_report: the end-to-end demo's eyes (scripts/demo, docs/demo.md). `watch` draws a live progress bar and
// per-agent throughput from the region database until the jobs are done; `report` rebuilds the Mandelbrot image
// and the sgemm product from the validated work units, checks both against the kernels' CPU reference, writes
// them (PNG, .npy) and prints the summary table.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "demo_checks.hpp"
#include "demo_region.hpp"

namespace ec::demo {
namespace {

using namespace std::chrono_literals;

volatile sig_atomic_t interrupted = 0;
void on_signal(int) { interrupted = 1; }

std::string bar(double fraction, int width) {
  const int full = static_cast<int>(std::clamp(fraction, 0.0, 1.0) * width + 0.5);
  return "[" + std::string(static_cast<std::size_t>(full), '#') +
         std::string(static_cast<std::size_t>(width - full), '-') + "]";
}

std::string fmt(const char* format, auto... args) {
  char buf[512];
  std::snprintf(buf, sizeof buf, format, args...);
  return buf;
}

// A process the watch keeps an eye on: NAME=PID. A zombie counts as gone (the demo script reaps it later).
struct watched_process {
  std::string name;
  pid_t pid = 0;
};

bool alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

std::map<std::string, std::string> principals_by_agent(region_db& db) {
  std::map<std::string, std::string> out;
  if (auto agents = db.agents())
    for (const auto& a : *agents) out[a.agent_id] = a.principal;
  return out;
}

// --- watch ---------------------------------------------------------------------------------------------------

struct watch_options {
  std::string db;
  std::vector<std::string> jobs;
  std::vector<std::string> processes;  // NAME=PID
  double timeout_s = 600;
};

int watch(const watch_options& o) {
  std::vector<watched_process> procs;
  for (const auto& p : o.processes) {
    const auto eq = p.find('=');
    if (eq == std::string::npos) {
      std::fprintf(stderr, "ec_demo_report: --process wants NAME=PID, got '%s'\n", p.c_str());
      return 2;
    }
    procs.push_back({p.substr(0, eq), static_cast<pid_t>(std::stol(p.substr(eq + 1)))});
  }
  auto opened = region_db::open(o.db);
  if (!opened) {
    std::fprintf(stderr, "ec_demo_report: %s: %s\n", o.db.c_str(), opened.err().what().c_str());
    return 2;
  }
  region_db& db = *opened;
  const bool tty = ::isatty(STDOUT_FILENO) == 1;
  const auto started = std::chrono::steady_clock::now();
  // Results since the first of the jobs was submitted (the demo's region has no others).
  std::uint64_t since = wall_ms();
  if (auto first = db.jobs(o.jobs))
    for (const auto& j : *first) since = std::min(since, j.job.created_at_ms);
  // Rates over a sliding window of samples: (time, results per agent).
  std::deque<std::pair<std::chrono::steady_clock::time_point, std::map<std::string, std::uint64_t>>> samples;
  std::size_t drawn = 0;
  auto last_plain = started - 1h;
  for (;;) {
    auto jobs = db.jobs(o.jobs);
    if (!jobs) {
      std::fprintf(stderr, "ec_demo_report: %s\n", jobs.err().what().c_str());
      return 2;
    }
    auto stats = db.throughput(since);
    const auto principals = principals_by_agent(db);
    const auto now = std::chrono::steady_clock::now();
    std::map<std::string, std::uint64_t> counts;
    if (stats)
      for (const auto& a : *stats) counts[a.agent_id] = a.results_since;
    samples.emplace_back(now, counts);
    while (samples.size() > 2 && now - samples.front().first > 3s) samples.pop_front();
    const double window = std::chrono::duration<double>(now - samples.front().first).count();

    std::vector<std::string> lines;
    bool all_final = true;
    std::uint64_t failed = 0;
    for (const auto& j : *jobs) {
      const auto total = j.total();
      const auto done = j.counts.validated + j.counts.failed;
      const double fraction = total == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total);
      lines.push_back(fmt(
          "  %-11s %s %3.0f%%  %4llu/%llu units validated%s", j.job.kernel.c_str(), bar(fraction, 32).c_str(),
          fraction * 100, static_cast<unsigned long long>(j.counts.validated), static_cast<unsigned long long>(total),
          j.counts.failed ? fmt(", %llu FAILED", static_cast<unsigned long long>(j.counts.failed)).c_str() : ""));
      all_final = all_final && j.final();
      failed += j.counts.failed;
    }
    for (const auto& [agent, n] : counts) {
      const auto before = samples.front().second.count(agent) ? samples.front().second.at(agent) : 0;
      const double rate = window > 0.5 ? static_cast<double>(n - before) / window : 0.0;
      const auto it = principals.find(agent);
      lines.push_back(fmt("    %-14s %5llu results  %6.1f tasks/s",
                          it == principals.end() ? agent.substr(0, 12).c_str() : it->second.c_str(),
                          static_cast<unsigned long long>(n), rate));
    }
    const double elapsed = std::chrono::duration<double>(now - started).count();
    if (tty) {
      if (drawn > 0) std::printf("\033[%zuA", drawn);
      for (const auto& l : lines) std::printf("\r\033[K%s\n", l.c_str());
      drawn = lines.size();
      std::fflush(stdout);
    } else if (all_final || now - last_plain >= 5s) {
      std::printf("  -- %.0f s\n", elapsed);
      for (const auto& l : lines) std::printf("%s\n", l.c_str());
      std::fflush(stdout);
      last_plain = now;
    }
    if (all_final) {
      if (failed > 0) {
        std::fprintf(stderr, "ec_demo_report: %llu work units failed (results disagreed beyond max_replicas)\n",
                     static_cast<unsigned long long>(failed));
        return 1;
      }
      return 0;
    }
    if (interrupted) return 130;  // Ctrl-C reaches the whole process group: the agents are stopping too
    for (const auto& p : procs) {
      if (!alive(p.pid)) {
        std::fprintf(stderr, "ec_demo_report: %s (pid %d) exited while the jobs were running\n", p.name.c_str(), p.pid);
        return 3;
      }
    }
    if (elapsed > o.timeout_s) {
      std::fprintf(stderr, "ec_demo_report: the jobs were not done after %.0f s\n", o.timeout_s);
      return 124;
    }
    std::this_thread::sleep_for(250ms);  // the database is another process's: looking is the only way to know
  }
}

// --- report --------------------------------------------------------------------------------------------------

struct report_options {
  std::string db;
  std::string mandelbrot_job, sgemm_job;
  std::string png, npy;
  std::vector<std::string> expect;  // PRINCIPAL=BACKEND
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(std::max(1.0, std::ceil(p / 100.0 * static_cast<double>(v.size()))));
  return v[rank - 1];
}

struct agent_summary {
  std::string principal;
  std::map<std::string, std::uint64_t> devices;  // "backend: name" -> results
  std::uint64_t ok = 0, other = 0;
  std::uint64_t first_issued = UINT64_MAX, last_received = 0;
  std::vector<double> run_ms;  // per task, from its start on the device to its outputs (no queueing)
};

int report(const report_options& o) {
  auto opened = region_db::open(o.db);
  if (!opened) {
    std::fprintf(stderr, "ec_demo_report: %s: %s\n", o.db.c_str(), opened.err().what().c_str());
    return 2;
  }
  region_db& db = *opened;
  const std::vector<std::string> ids{o.mandelbrot_job, o.sgemm_job};
  auto jobs = db.jobs(ids);
  if (!jobs) {
    std::fprintf(stderr, "ec_demo_report: %s\n", jobs.err().what().c_str());
    return 2;
  }
  const auto principals = principals_by_agent(db);
  std::map<std::string, agent_summary> agents;
  std::vector<double> latency_ms;
  bool ok = true;

  std::printf("\n  %-30s %-10s %6s %9s %6s %8s %12s\n", "job", "kernel", "units", "validated", "failed", "results",
              "replication");
  std::uint64_t all_units = 0, all_validated = 0, all_failed = 0, all_results = 0;
  std::uint64_t submitted_ms = UINT64_MAX, done_ms = 0;  // first submission, last final work unit
  for (const auto& j : *jobs) {
    submitted_ms = std::min(submitted_ms, j.job.created_at_ms);
    if (auto units = db.work_units(j.job.job_id))
      for (const auto& u : *units) done_ms = std::max(done_ms, u.final_at_ms);
    auto results = db.results(j.job.job_id);
    if (!results) {
      std::fprintf(stderr, "ec_demo_report: %s\n", results.err().what().c_str());
      return 2;
    }
    std::uint64_t computed = 0;
    for (const auto& r : *results) {
      auto& a = agents[r.agent_id];
      const auto p = principals.find(r.agent_id);
      a.principal = p == principals.end() ? r.agent_id : p->second;
      if (r.status != protocol::result_status::ok) {
        ++a.other;
        continue;
      }
      ++computed;
      ++a.ok;
      ++a.devices[r.backend + ": " + r.device];
      a.first_issued = std::min(a.first_issued, r.issued_at_ms);
      a.last_received = std::max(a.last_received, r.received_at_ms);
      if (r.agent_run_us) a.run_ms.push_back(static_cast<double>(r.agent_run_us) / 1000.0);
      if (r.issued_at_ms && r.received_at_ms >= r.issued_at_ms)
        latency_ms.push_back(static_cast<double>(r.received_at_ms - r.issued_at_ms));
    }
    const auto total = j.total();
    const double per_unit =
        j.counts.validated ? static_cast<double>(computed) / static_cast<double>(j.counts.validated) : 0;
    std::printf("  %-30s %-10s %6llu %9llu %6llu %8llu %11.2fx\n", j.job.job_id.c_str(), j.job.kernel.c_str(),
                static_cast<unsigned long long>(total), static_cast<unsigned long long>(j.counts.validated),
                static_cast<unsigned long long>(j.counts.failed), static_cast<unsigned long long>(computed), per_unit);
    all_units += total;
    all_validated += j.counts.validated;
    all_failed += j.counts.failed;
    all_results += computed;
    ok = ok && j.counts.validated == total;
  }
  const double overhead = all_validated ? static_cast<double>(all_results) / static_cast<double>(all_validated) : 0;
  std::printf("  %-30s %-10s %6llu %9llu %6llu %8llu %11.2fx  (+%.0f%% over one result per unit; quorum %u)\n", "all",
              "", static_cast<unsigned long long>(all_units), static_cast<unsigned long long>(all_validated),
              static_cast<unsigned long long>(all_failed), static_cast<unsigned long long>(all_results), overhead,
              (overhead - 1) * 100, jobs->empty() ? 0u : (*jobs)[0].job.quorum);

  std::printf("\n  %-14s %-52s %6s %8s %12s\n", "agent", "device", "tasks", "tasks/s", "run p50");
  std::map<std::string, std::string> expected;
  for (const auto& e : o.expect) {
    const auto eq = e.find('=');
    if (eq != std::string::npos) expected[e.substr(0, eq)] = e.substr(eq + 1);
  }
  std::set<std::string> seen;
  for (const auto& [id, a] : agents) {
    std::string device;
    for (const auto& [d, n] : a.devices)
      device += (device.empty() ? "" : ", ") + d +
                (a.devices.size() > 1 ? fmt(" (%llu)", static_cast<unsigned long long>(n)) : "");
    const double span_s =
        a.last_received > a.first_issued ? static_cast<double>(a.last_received - a.first_issued) / 1000.0 : 0;
    std::printf("  %-14s %-52.52s %6llu %8.1f %10.1f ms\n", a.principal.c_str(), device.c_str(),
                static_cast<unsigned long long>(a.ok), span_s > 0 ? static_cast<double>(a.ok) / span_s : 0.0,
                percentile(a.run_ms, 50));
    seen.insert(a.principal);
    if (const auto want = expected.find(a.principal); want != expected.end()) {
      for (const auto& [d, n] : a.devices) {
        if (d.rfind(want->second + ":", 0) != 0) {
          std::printf("  !! %s was to run on %s but %llu of its results came from %s\n", a.principal.c_str(),
                      want->second.c_str(), static_cast<unsigned long long>(n), d.c_str());
          ok = false;
        }
      }
    }
  }
  for (const auto& [principal, backend] : expected) {
    if (!seen.count(principal)) {
      std::printf("  !! %s (%s) returned no results\n", principal.c_str(), backend.c_str());
      ok = false;
    }
  }
  const double jobs_s = done_ms > submitted_ms ? static_cast<double>(done_ms - submitted_ms) / 1000.0 : 0;
  std::printf("\n  jobs: %.1f s from submission to the last validated unit: %.1f tasks/s over all agents\n", jobs_s,
              jobs_s > 0 ? static_cast<double>(all_results) / jobs_s : 0.0);
  std::printf("  task latency, lease issued -> result stored: p50 %.0f ms, p99 %.0f ms (%zu tasks)\n",
              percentile(latency_ms, 50), percentile(latency_ms, 99), latency_ms.size());

  // The outputs, rebuilt from the canonical results and checked against the CPU reference.
  const auto& mjob = (*jobs)[0].job;
  if (auto render = assemble_mandelbrot(db, mjob)) {
    const auto check = check_mandelbrot(*render);
    const auto err = write_mandelbrot_png(*render, o.png);
    std::printf("  mandelbrot: %s %s\n", check.ok ? "OK  " : "FAIL", check.detail.c_str());
    std::printf("              image written to %s\n", err.empty() ? o.png.c_str() : err.c_str());
    ok = ok && check.ok && err.empty();
  } else {
    std::printf("  mandelbrot: FAIL %s\n", render.err().what().c_str());
    ok = false;
  }
  const auto& sjob = (*jobs)[1].job;
  if (auto product = assemble_sgemm(db, sjob)) {
    const auto check = check_sgemm(*product, sjob);
    const auto err = write_npy(*product, o.npy);
    std::printf("  sgemm:      %s %s\n", check.ok ? "OK  " : "FAIL", check.detail.c_str());
    std::printf("              C written to %s\n", err.empty() ? o.npy.c_str() : err.c_str());
    ok = ok && check.ok && err.empty();
  } else {
    std::printf("  sgemm:      FAIL %s\n", product.err().what().c_str());
    ok = false;
  }
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace ec::demo

int main(int argc, char** argv) {
  using namespace ec::demo;
  CLI::App app{"ec_demo_report: live progress and the checked summary of the end-to-end demo (scripts/demo)"};
  app.require_subcommand(1);
  watch_options w;
  auto* watch_cmd = app.add_subcommand("watch", "progress bar and per-agent throughput until the jobs are done");
  watch_cmd->add_option("--db", w.db, "the region's SQLite database")->required();
  watch_cmd->add_option("--job", w.jobs, "job id (repeatable)")->required();
  watch_cmd->add_option("--process", w.processes, "NAME=PID of a process that must stay alive (repeatable)");
  watch_cmd->add_option("--timeout-s", w.timeout_s, "give up after this many seconds");
  report_options r;
  auto* report_cmd = app.add_subcommand("report", "rebuild, check and write the outputs; print the summary");
  report_cmd->add_option("--db", r.db, "the region's SQLite database")->required();
  report_cmd->add_option("--mandelbrot-job", r.mandelbrot_job, "the Mandelbrot job id")->required();
  report_cmd->add_option("--sgemm-job", r.sgemm_job, "the sgemm job id")->required();
  report_cmd->add_option("--png", r.png, "where to write the image")->required();
  report_cmd->add_option("--npy", r.npy, "where to write the sgemm product (.npy)")->required();
  report_cmd->add_option("--expect", r.expect, "PRINCIPAL=BACKEND: that agent's results must come from BACKEND");
  CLI11_PARSE(app, argc, argv);
  ::signal(SIGINT, on_signal);
  ::signal(SIGTERM, on_signal);
  if (*watch_cmd) return watch(w);
  return report(r);
}
