// edge-agent command line. Only argument parsing lives here; every command is a function of ec_agent.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "ec/agent/bench.hpp"
#include "ec/agent/probe.hpp"

namespace {

void add_device_options(CLI::App& cmd, ec::agent::probe_options& o) {
  cmd.add_option("--state-dir", o.state_dir, "Caches and state (default: $EC_STATE_DIR, /var/lib/edge-agent, ~/.local/state/edge-agent)");
  cmd.add_option("--module-dir", o.module_dir, "Folder of the backend modules (default: $EC_BACKEND_PATH or the built-in path)");
  cmd.add_option("--disable", o.disabled_backends, "Backends not to load (vulkan, opencl)");
  cmd.add_option("--backend", o.backend_filter, "Choose only devices of this backend");
  cmd.add_option("--device-filter", o.device_filter, "Choose only devices whose id or name contains this");
  cmd.add_flag("--validation", o.validation, "Enable the Vulkan validation layer");
}

int report_error(const ec::error& e) {
  std::fprintf(stderr, "edge-agent: %s\n", e.what().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"edgecompute agent: runs signed micro-tasks on this device's GPUs and CPU"};
  app.require_subcommand(1);

  ec::agent::probe_options probe_opts;
  bool json = false, no_calibrate = false;
  auto* probe = app.add_subcommand("probe", "List backends and devices, self-test and calibrate every kernel, show the choice");
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

  CLI11_PARSE(app, argc, argv);

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
