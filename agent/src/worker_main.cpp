// `edge-agent worker`: sandbox first, then load drivers, then serve run requests until the supervisor closes the
// socket. The worker trusts nothing it receives more than the supervisor trusts what it sends back.
#include <unistd.h>

#include <chrono>
#include <thread>

#include "ec/agent/log.hpp"
#include "ec/agent/probe.hpp"
#include "ec/agent/worker_process.hpp"
#include "worker_arena.hpp"
#include "worker_frame.hpp"
#include "worker_run.hpp"
#include "worker_sandbox.hpp"

namespace ec::agent {
namespace {

constexpr std::string_view component = "worker";

int fail_with(const error& e, std::string_view what) {
  log(log_level::error, component, what, {{"error", e.what()}});
  return 2;
}

std::filesystem::path own_binary_dir() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path() : self.parent_path();
}

worker::sandbox_options sandbox_for(const worker_args& a, bool isolate_files) {
  worker::sandbox_options o;
  o.isolate_files = isolate_files;
  o.idle_priority = a.idle_priority;
  o.memory_limit_bytes = a.memory_limit_mib << 20;
  o.landlock = a.landlock;
  std::vector<std::filesystem::path> extra{own_binary_dir()};
  // The registry falls back to the default folder when none is configured: Landlock must let the worker read it,
  // or every GPU device it advertised would fail its tasks with "no device in this worker".
  extra.push_back(a.module_dir.empty() ? backends::default_module_dir() : a.module_dir);
  o.read_paths = worker::default_read_paths(extra);
  // Caches the drivers write (pipeline and program caches, PoCL's kernel cache) and the GPU device nodes
  // (Jetson: nvhost-*, nvmap). Never the state directory itself: agent.key lives there.
  o.write_paths = {a.state_dir / "cache", a.state_dir / "pocl",   "/dev/dri",        "/dev/null",         "/dev/nvmap",
                   "/dev/nvhost-ctrl",    "/dev/nvhost-ctrl-gpu", "/dev/nvhost-gpu", "/dev/nvhost-as-gpu"};
  if (const char* p = std::getenv("POCL_CACHE_DIR"); p && *p) o.write_paths.emplace_back(p);
  return o;
}

backends::registry_options registry_options_of(const worker_args& a) {
  backends::registry_options ro;
  ro.module_dir = a.module_dir;
  ro.disabled = a.disabled_backends;
  ro.backend.cache_dir = a.state_dir / "cache";
  ro.backend.cpu_threads = a.cpu_threads;
  ro.backend.custom_cache_entries = a.custom_cache_entries;
  return ro;
}

void maybe_hang([[maybe_unused]] const worker_args& a) {
#ifdef EC_TEST_HOOKS
  // Test hook: a driver that never returns from enumeration. Blocks without spinning until killed.
  if (a.test_hang)
    for (;;) ::pause();
#endif
}

// Discovery child: the same probe as `edge-agent probe` (self-tests and calibration land in the device cache),
// answered as one Discovery frame. It runs only catalogue kernels on built-in samples, so it gets the priority
// and memory limits but not Landlock: it must write device_cache.tsv beside agent.key (docs/isolation.md).
int run_discovery(const worker_args& a) {
  auto sandbox = worker::enter_sandbox(sandbox_for(a, false));
  if (!sandbox) return fail_with(sandbox.err(), "cannot enter the sandbox");
  maybe_hang(a);
  probe_options po;
  po.state_dir = a.state_dir;
  po.module_dir = a.module_dir;
  po.disabled_backends = a.disabled_backends;
  po.backend_filter = a.backend_filter;
  po.device_filter = a.device_filter;
  auto report = run_probe(po);
  if (!report) return fail_with(report.err(), "device discovery failed");
  worker::discovery d;
  d.backends = report->devices->backends();
  for (const auto& dev : report->devices->devices()) d.devices.push_back({dev.dev->id(), dev.info});
  d.discover_s = report->discover_s;
  d.evaluate_s = report->evaluate_s;
  if (auto r = worker::send_frame(a.fd, d); !r) return fail_with(r.err(), "cannot report the discovery");
  return 0;
}

int serve(const worker_args& a, const backends::registry& devices, worker::shared_arena& arena) {
  for (;;) {
    auto f = worker::receive_frame(a.fd, std::nullopt);
    if (!f && f.code() == error_code::unavailable) return 0;  // the supervisor closed the channel: done
    if (!f) return fail_with(f.err(), "bad frame from the supervisor");
    auto* req = std::get_if<worker::run_request>(&*f);
    if (!req) return fail_with(fail(error_code::malformed, "not a run request"), "bad frame from the supervisor");
    if (auto r = worker::send_frame(a.fd, worker::run_in_worker(*req, devices, arena)); !r) return 0;
  }
}

}  // namespace

int run_worker_process(const worker_args& a) {
  if (a.fd < 0) return fail_with(fail(error_code::invalid_argument, "--fd is required"), "cannot start");
  // Directories a Landlock rule names must exist before the domain is built.
  std::error_code ec;
  std::filesystem::create_directories(a.state_dir / "cache", ec);
  std::filesystem::create_directories(a.state_dir / "pocl", ec);
  backends::prepare_opencl_environment(a.state_dir);
  if (a.discover) return run_discovery(a);
  if (a.arena_fd < 0) return fail_with(fail(error_code::invalid_argument, "--arena-fd is required"), "cannot start");

  auto sandbox = worker::enter_sandbox(sandbox_for(a, true));
  if (!sandbox) return fail_with(sandbox.err(), "cannot enter the sandbox");
  auto devices = backends::registry::load(registry_options_of(a));
  worker::ready r{{}, sandbox->text, sandbox->landlock_abi};
  for (const auto& d : devices->devices()) r.device_ids.push_back(d.dev->id());
  if (auto sent = worker::send_frame(a.fd, r); !sent) return fail_with(sent.err(), "cannot reach the supervisor");
  auto arena = worker::shared_arena::adopt(a.arena_fd);
  return serve(a, *devices, arena);
}

}  // namespace ec::agent
