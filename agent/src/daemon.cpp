// The daemon: SIGTERM/SIGINT and systemd around the agent assembly (agent_assembly.cpp, shared with the C API).
// Signals are blocked before the first thread starts (device discovery, Paho), so that only the main thread,
// waiting in sigwait(), ever sees them.
#include "ec/agent/daemon.hpp"

#include <csignal>
#include <cstdio>
#include <fstream>

#include "ec/agent/agent_assembly.hpp"
#include "ec/agent/log.hpp"
#include "ec/agent/probe.hpp"
#include "supervisor_notify.hpp"

namespace ec::agent {
namespace {

constexpr std::string_view component = "daemon";

int fail_with(const error& e, std::string_view what) {
  log(log_level::error, component, what, {{"error", e.what()}});
  return 1;
}

// sigwait(), pinging systemd's watchdog (Type=notify, WatchdogSec=) in between when it asks for pings.
int wait_for_termination(const sigset_t& signals) {
  const auto ping = watchdog_ping_interval();
  if (!ping) {
    int sig = 0;
    sigwait(&signals, &sig);
    return sig;
  }
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(*ping);
  const timespec every{static_cast<time_t>(s.count()), static_cast<long>((*ping - s).count() * 1000)};
  for (;;) {
    const int sig = sigtimedwait(&signals, nullptr, &every);
    if (sig > 0) return sig;
    notify_service_manager("WATCHDOG=1");
  }
}

sigset_t block_termination_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

}  // namespace

std::filesystem::path state_dir_of(const agent_config& config) {
  return config.agent.state_dir.empty() ? default_state_dir() : std::filesystem::path(config.agent.state_dir);
}

int run_daemon(const agent_config& c, std::shared_ptr<host_signals> host_feed) {
  const sigset_t signals = block_termination_signals();
  if (auto level = parse_log_level(c.log.level)) default_logger().set_level(*level);
  default_logger().set_remote_rate(c.log.rate_limit_per_s);
  // The wiring is shared with the C API (agent_assembly.cpp); the daemon adds only signals and systemd.
  assembly_options options;
  options.host_feed = std::move(host_feed);
  auto agent = agent_assembly::build(c, std::move(options));
  if (!agent) return fail_with(agent.err(), "cannot assemble the agent");
  if (auto r = (*agent)->start(); !r) return fail_with(r.err(), "cannot start the agent");
  notify_service_manager("READY=1");
  const int sig = wait_for_termination(signals);
  notify_service_manager("STOPPING=1");
  log(log_level::info, component, "draining", {{"signal", sig}});
  (*agent)->stop(true);
  return 0;
}

int print_status(const agent_config& c) {
  const auto state = state_dir_of(c);
  auto j = journal::open({state});
  if (!j && j.code() == error_code::unavailable) {
    // The daemon holds the journal: show what it last wrote (every 2 s) instead of reading the journal.
    std::ifstream in(state / "status.txt");
    if (!in) return std::fprintf(stderr, "edge-agent: %s\n", j.err().what().c_str()), 1;
    std::printf("agent running (state dir %s)\n%s", state.c_str(),
                std::string(std::istreambuf_iterator<char>(in), {}).c_str());
    return 0;
  }
  if (!j) {
    std::fprintf(stderr, "edge-agent: %s\n", j.err().what().c_str());
    return 1;
  }
  auto spool = result_spool::open(**j, result_spool_config::from(c.spool));
  if (!spool) {
    std::fprintf(stderr, "edge-agent: %s\n", spool.err().what().c_str());
    return 1;
  }
  const auto s = (*spool)->stats();
  const auto& report = (*j)->open_report();
  (*j)->read([&](const journal_state& js) {
    std::printf("state dir          %s\n", state.c_str());
    std::printf("journal            %s (%llu records replayed, %llu bytes cut)\n", (*j)->path().c_str(),
                static_cast<unsigned long long>(report.records), static_cast<unsigned long long>(report.cut_bytes));
    std::printf("session seq        %llu\n", static_cast<unsigned long long>(js.session_seq));
    std::printf("last control seq   %llu\n", static_cast<unsigned long long>(js.control_seq));
  });
  std::printf("spool              %zu batches pending, %llu bytes spooled, %llu reserved, capacity %llu\n",
              s.pending_batches, static_cast<unsigned long long>(s.spooled_bytes),
              static_cast<unsigned long long>(s.reserved_bytes), static_cast<unsigned long long>(s.capacity_bytes));
  std::printf("unfinished tasks   %zu\n", s.unfinished_tasks);
  std::printf("dead letters       %zu\n", s.dead_letters);
  return 0;
}

}  // namespace ec::agent
