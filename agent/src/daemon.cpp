// The daemon's wiring. Signals are blocked before the first thread starts (device discovery, Paho), so that only
// the main thread, waiting in sigwait(), ever sees SIGTERM/SIGINT.
#include "ec/agent/daemon.hpp"

#include <csignal>
#include <cstdio>
#include <fstream>

#include "ec/agent/agent_identity.hpp"
#include "ec/agent/agent_runtime.hpp"
#include "ec/agent/in_process_executor.hpp"
#include "ec/agent/log.hpp"
#include "ec/agent/probe.hpp"
#include "ec/agent/worker_discovery.hpp"
#include "ec/agent/worker_process_executor.hpp"
#include "ec/protocol/keys.hpp"
#include "ec/protocol/mbedtls_signer.hpp"
#include "supervisor_notify.hpp"

namespace ec::agent {
namespace {

constexpr std::string_view component = "daemon";

int fail_with(const error& e, std::string_view what) {
  log(log_level::error, component, what, {{"error", e.what()}});
  return 1;
}

result<std::unique_ptr<protocol::static_trust_store>> load_trust(const agent_config& c) {
  if (c.trust.aggregator_keys.empty())
    return fail(error_code::invalid_argument, "trust.aggregator_keys is empty: the agent would accept no task");
  auto trust = std::make_unique<protocol::static_trust_store>(protocol::mbedtls_verifier_factory());
  for (const auto& path : c.trust.aggregator_keys) {
    auto key = protocol::public_key::load(path);
    if (!key) return error{key.err().code, "trust.aggregator_keys: " + path + ": " + key.err().message};
    trust->trust_aggregator(*key);
  }
  return trust;
}

result<transport::session_options> session_options_of(const agent_config& c, std::string_view agent_id) {
  transport::session_options o;
  o.url = c.broker.url;
  o.client_id = std::string(agent_id);
  o.username = c.broker.username.empty() ? std::string(agent_id) : c.broker.username;
  auto password = read_broker_password(c.broker);
  if (!password) return password.err();
  o.password = *password;
  o.tls = {c.broker.tls.ca_file, c.broker.tls.cert_file, c.broker.tls.key_file, c.broker.tls.verify_hostname};
  o.keepalive_s = c.broker.keepalive_s;
  o.reconnect_min_ms = c.broker.reconnect_min_ms;
  o.reconnect_max_ms = c.broker.reconnect_max_ms;
  o.max_payload_bytes = c.broker.max_payload_bytes;
  o.allow_insecure_transport = c.broker.allow_insecure_transport;
  o.log = [](transport::log_level level, std::string_view message) {
    const auto l = level == transport::log_level::error  ? log_level::error
                   : level == transport::log_level::warn ? log_level::warn
                   : level == transport::log_level::info ? log_level::info
                                                         : log_level::debug;
    log(l, "mqtt", message);
  };
  return o;
}

// With worker processes, discovery runs in a child too; a hanging GPU driver costs its backends, not the agent.
result<probe_report> discover_devices(const agent_config& c, const probe_options& po) {
  if (c.agent.executor != "worker") return run_probe(po);
  discovery_options d;
  d.probe = po;
  d.timeout = std::chrono::seconds(c.agent.discovery_timeout_s);
  d.memory_limit_mib = c.agent.worker_memory_mib;
  d.idle_priority = c.agent.worker_idle_priority;
  auto found = discover_in_child(d);
  if (found || found.code() != error_code::timeout) return found;
  log(log_level::error, component, "device discovery hung; going on with the CPU backend only",
      {{"error", found.err().what()}});
  for (const auto& name : backends::module_backend_names()) d.probe.disabled_backends.push_back(name);
  return discover_in_child(d);
}

std::unique_ptr<executor> make_executor(const agent_config& c, const probe_report& devices,
                                        const std::filesystem::path& state) {
  if (c.agent.executor == "in_process")
    return std::make_unique<in_process_executor>(*devices.selector, c.agent.max_slots);
  worker_executor_options o;
  o.state_dir = state;
  o.module_dir = c.devices.module_dir;
  o.disabled_backends = c.devices.disabled_backends;
  o.cpu_threads = c.devices.cpu_threads;
  o.memory_limit_mib = c.agent.worker_memory_mib;
  o.idle_priority = c.agent.worker_idle_priority;
  return std::make_unique<worker_process_executor>(*devices.selector, c.agent.max_slots, std::move(o));
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

int run_daemon(const agent_config& c) {
  const sigset_t signals = block_termination_signals();
  if (auto level = parse_log_level(c.log.level)) default_logger().set_level(*level);
  default_logger().set_remote_rate(c.log.rate_limit_per_s);
  const auto state = state_dir_of(c);
  if (auto id = ensure_identity(state); !id) return fail_with(id.err(), "cannot create the agent key");
  auto signer = load_signer(state);
  if (!signer) return fail_with(signer.err(), "cannot load the agent key");
  const auto agent_id = protocol::agent_id_of((*signer)->key().id());
  auto trust = load_trust(c);
  if (!trust) return fail_with(trust.err(), "invalid trust configuration");
  auto options = session_options_of(c, agent_id);
  if (!options) return fail_with(options.err(), "invalid broker configuration");

  probe_options po;
  po.state_dir = state;
  po.module_dir = c.devices.module_dir;
  po.disabled_backends = c.devices.disabled_backends;
  po.backend_filter = c.devices.backend;
  po.device_filter = c.devices.device_filter;
  auto devices = discover_devices(c, po);
  if (!devices) return fail_with(devices.err(), "device discovery failed");

  auto journal_store = journal::open({state});
  if (!journal_store) return fail_with(journal_store.err(), "cannot open the journal");
  auto spool = result_spool::open(**journal_store, result_spool_config::from(c.spool));
  if (!spool) return fail_with(spool.err(), "cannot open the result spool");
  const auto exec = make_executor(c, *devices, state);
  transport::mqtt_session session(std::move(*options));

  runtime_parts parts{&c,
                      signer->get(),
                      trust->get(),
                      devices->devices.get(),
                      devices->selector.get(),
                      exec.get(),
                      journal_store->get(),
                      spool->get(),
                      &session,
                      {},
                      state / "status.txt"};
  agent_runtime runtime(parts);
  if (auto r = runtime.start(); !r) return fail_with(r.err(), "cannot start the agent");
  log(log_level::info, component, "agent ready", {{"agent_id", agent_id}, {"broker", c.broker.url}});
  notify_service_manager("READY=1");
  const int sig = wait_for_termination(signals);
  notify_service_manager("STOPPING=1");
  log(log_level::info, component, "draining", {{"signal", sig}});
  runtime.stop(true);
  const auto st = runtime.stats();
  log(log_level::info, component, "stopped",
      {{"admitted", st.tasks_admitted}, {"results", st.results_spooled}, {"rejected_messages", st.messages_rejected}});
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
