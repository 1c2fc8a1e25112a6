// edge-agent command line. Only argument parsing lives here; every command is a function of ec_agent.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "ec/agent/agent_identity.hpp"
#include "ec/agent/bench.hpp"
#include "ec/agent/config.hpp"
#include "ec/agent/daemon.hpp"
#include "ec/agent/probe.hpp"
#include "ec/agent/worker_process.hpp"
#include "ec/protocol/keys.hpp"

namespace {

void add_device_options(CLI::App& cmd, ec::agent::probe_options& o) {
  cmd.add_option("--state-dir", o.state_dir,
                 "Caches and state (default: $EC_STATE_DIR, /var/lib/edge-agent, ~/.local/state/edge-agent)");
  cmd.add_option("--module-dir", o.module_dir,
                 "Folder of the backend modules (default: $EC_BACKEND_PATH or the built-in path)");
  cmd.add_option("--disable", o.disabled_backends, "Backends not to load (vulkan, opencl)");
  cmd.add_option("--backend", o.backend_filter, "Choose only devices of this backend");
  cmd.add_option("--device-filter", o.device_filter, "Choose only devices whose id or name contains this");
  cmd.add_flag("--validation", o.validation, "Enable the Vulkan validation layer");
}

int report_error(const ec::error& e) {
  std::fprintf(stderr, "edge-agent: %s\n", e.what().c_str());
  return 1;
}

// --config FILE (or $EDGE_AGENT_CONFIG, or defaults), then the environment, then --set key=value flags.
ec::result<ec::agent::agent_config> load_config(const std::string& file, const std::vector<std::string>& sets) {
  std::vector<ec::agent::config_override> overrides;
  for (const auto& s : sets) {
    const auto eq = s.find('=');
    if (eq == std::string::npos)
      return ec::fail(ec::error_code::invalid_argument, "--set expects key=value, got '" + s + "'");
    overrides.emplace_back(s.substr(0, eq), s.substr(eq + 1));
  }
  const auto env = ec::agent::process_environment();
  std::string path = file;
  if (path.empty())
    if (const auto it = env.find(std::string(ec::agent::config_path_env_var)); it != env.end()) path = it->second;
  if (path.empty()) return ec::agent::load_config("", env, overrides);
  return ec::agent::load_config_file(path, env, overrides);
}

int keygen(const std::string& state_dir) {
  auto key =
      ec::agent::ensure_identity(state_dir.empty() ? ec::agent::default_state_dir() : std::filesystem::path(state_dir));
  if (!key) return report_error(key.err());
  std::printf("%s\n", ec::protocol::agent_id_of(key->id()).c_str());
  return 0;
}

int show_id(const std::string& state_dir) {
  auto key =
      ec::agent::load_public_key(state_dir.empty() ? ec::agent::default_state_dir() : std::filesystem::path(state_dir));
  if (!key) return report_error(key.err());
  std::printf("agent_id %s\n%s", ec::protocol::agent_id_of(key->id()).c_str(), key->to_pem().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"edgecompute agent: runs signed micro-tasks on this device's GPUs and CPU"};
  app.require_subcommand(1);

  ec::agent::probe_options probe_opts;
  bool json = false, no_calibrate = false;
  auto* probe =
      app.add_subcommand("probe", "List backends and devices, self-test and calibrate every kernel, show the choice");
  add_device_options(*probe, probe_opts);
  probe->add_flag("--json", json, "Machine-readable output");
  probe->add_flag("--no-calibrate", no_calibrate, "Self-tests only");
  probe->add_flag("--recalibrate", probe_opts.recalibrate, "Ignore cached verdicts and figures");

  ec::agent::probe_options bench_probe;
  ec::agent::bench_options bench_opts;
  bool bench_json = false;
  auto* bench = app.add_subcommand("bench", "Throughput per device and kernel beside the device's copy bandwidth");
  add_device_options(*bench, bench_probe);
  bench->add_option("--kernel", bench_opts.kernel, "Only this kernel");
  bench->add_option("--device", bench_opts.device, "Only devices whose id contains this");
  bench->add_option("--seconds", bench_opts.seconds_per_case, "Timing budget per case")->check(CLI::PositiveNumber);
  bench->add_flag("--json", bench_json, "Machine-readable output");

  std::string config_file, state_dir;
  std::vector<std::string> sets;
  auto* run = app.add_subcommand("run", "Run the agent until SIGTERM/SIGINT, then drain");
  run->add_option("--config", config_file, "TOML config (default: $EDGE_AGENT_CONFIG)");
  run->add_option("--set", sets, "Override one key: --set broker.url=mqtt://127.0.0.1:1883 (repeatable)");
  auto* status =
      app.add_subcommand("status", "Journal, spool depth, dead letters and last state from the state directory");
  status->add_option("--config", config_file, "TOML config (default: $EDGE_AGENT_CONFIG)");
  status->add_option("--set", sets, "Override one key (repeatable)");
  auto* keygen_cmd = app.add_subcommand("keygen", "Create the agent key pair if missing and print the agent_id");
  keygen_cmd->add_option("--state-dir", state_dir, "State directory");
  auto* id_cmd = app.add_subcommand("id", "Print the agent_id and public key (PEM)");
  id_cmd->add_option("--state-dir", state_dir, "State directory");
  auto* version = app.add_subcommand("version", "Print the version");

  // Hidden: the supervisor starts its workers and its discovery child as `edge-agent worker` (docs/isolation.md).
  ec::agent::worker_args worker_opts;
  bool no_idle = false, no_landlock = false;
  auto* worker = app.add_subcommand("worker", "")->group("");
  worker->add_option("--fd", worker_opts.fd)->required();
  worker->add_option("--arena-fd", worker_opts.arena_fd);
  worker->add_flag("--discover", worker_opts.discover);
  worker->add_option("--state-dir", worker_opts.state_dir)->required();
  worker->add_option("--module-dir", worker_opts.module_dir);
  worker->add_option("--disable", worker_opts.disabled_backends);
  worker->add_option("--backend", worker_opts.backend_filter);
  worker->add_option("--device-filter", worker_opts.device_filter);
  worker->add_option("--cpu-threads", worker_opts.cpu_threads);
  worker->add_option("--custom-cache-entries", worker_opts.custom_cache_entries);
  worker->add_option("--memory-limit-mib", worker_opts.memory_limit_mib);
  worker->add_flag("--no-idle", no_idle);
  worker->add_flag("--no-landlock", no_landlock);
#ifdef EC_TEST_HOOKS
  worker->add_flag("--test-hang", worker_opts.test_hang);
#endif

  CLI11_PARSE(app, argc, argv);

  if (run->parsed() || status->parsed()) {
    auto config = load_config(config_file, sets);
    if (!config) return report_error(config.err());
    return run->parsed() ? ec::agent::run_daemon(*config) : ec::agent::print_status(*config);
  }
  if (worker->parsed()) {
    worker_opts.idle_priority = !no_idle;
    worker_opts.landlock = !no_landlock;
    return ec::agent::run_worker_process(worker_opts);
  }
  if (keygen_cmd->parsed()) return keygen(state_dir);
  if (id_cmd->parsed()) return show_id(state_dir);
  if (version->parsed()) {
    std::printf("edge-agent 0.1.0 (protocol v1, backend API %u)\n", 1u);
    return 0;
  }

  if (probe->parsed()) {
    probe_opts.calibrate = !no_calibrate;
    auto report = ec::agent::run_probe(probe_opts);
    if (!report) return report_error(report.err());
    std::cout << (json ? ec::agent::probe_json(*report) : ec::agent::probe_text(*report));
    return 0;
  }
  bench_probe.calibrate = false;
  auto report = ec::agent::run_probe(bench_probe);
  if (!report) return report_error(report.err());
  const auto rows = ec::agent::run_bench(*report, bench_opts);
  std::cout << (bench_json ? ec::agent::bench_json(rows) : ec::agent::bench_text(rows));
  return 0;
}
