// probe: the one place that wires registry and selector together; the text and JSON views read the same data.
#include "ec/agent/probe.hpp"

#include <unistd.h>

#include <cstdlib>

namespace ec::agent {

std::filesystem::path default_state_dir() {
  if (const char* s = std::getenv("EC_STATE_DIR"); s && *s) return s;
  if (::geteuid() == 0) return "/var/lib/edge-agent";
  if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x) return std::filesystem::path(x) / "edge-agent";
  if (const char* h = std::getenv("HOME"); h && *h) return std::filesystem::path(h) / ".local/state/edge-agent";
  return std::filesystem::temp_directory_path() / "edge-agent";
}

result<probe_report> run_probe(const probe_options& options) {
  using seconds = std::chrono::duration<double>;
  const auto state = options.state_dir.empty() ? default_state_dir() : options.state_dir;
  std::error_code ec;
  std::filesystem::create_directories(state, ec);
  if (ec) return fail(error_code::io_error, "cannot create the state directory " + state.string() + ": " + ec.message());
  backends::prepare_opencl_environment(state);

  probe_report report;
  auto t0 = backends::clock::now();
  backends::registry_options ro;
  ro.module_dir = options.module_dir;
  ro.disabled = options.disabled_backends;
  ro.backend.cache_dir = state / "cache";
  ro.backend.validation = options.validation;
  ro.backend.cpu_threads = options.cpu_threads;
  ro.backend.custom_cache_entries = options.custom_cache_entries;
  report.devices = backends::registry::load(ro);
  report.discover_s = seconds(backends::clock::now() - t0).count();

  t0 = backends::clock::now();
  backends::selection_options so;
  so.cache_file = state / "device_cache.tsv";
  so.calibrate = options.calibrate;
  so.recalibrate = options.recalibrate;
  so.backend_filter = options.backend_filter;
  so.device_filter = options.device_filter;
  report.selector = std::make_unique<backends::device_selector>(*report.devices, so);
  if (auto r = report.selector->evaluate(); !r) return r.err();
  report.evaluate_s = seconds(backends::clock::now() - t0).count();
  return report;
}

}  // namespace ec::agent
