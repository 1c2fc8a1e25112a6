// ec_bench_executor (issue 6): what running kernels in supervised worker processes costs against the in-process
// executor, measured in one run on the same machine, with the machine's own limits beside each figure:
//   1. per-task overhead on tiny tasks (saxpy n = 256), one task at a time and pipelined; limit: a 64-byte pipe
//      round trip between two processes (the floor of any executor that crosses a process boundary);
//   2. the cost for large tensors (saxpy over --large-mib MiB per input); limit: memcpy of the bytes the worker
//      path moves through shared memory;
//   3. the footprint of the workers (RSS / PSS / USS per worker process), idle and after each phase.
// Target (issue 6): worker overhead <= 50 us per tiny task. CPU backend only, one slot, one CPU thread on both
// sides, so the difference is the worker path itself. Build with the release preset for figures worth quoting.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "agent_bench.hpp"  // read_memory, percentiles_of
#include "ec/agent/in_process_executor.hpp"
#include "ec/agent/worker_process_executor.hpp"
#include "ec/kernels/catalog.hpp"

namespace {

using namespace ec;
using steady = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr double target_overhead_us = 50.0;

struct options {
  std::size_t tasks = 2000;
  std::size_t tiny_n = 256;
  std::size_t large_mib = 16;
  std::size_t large_tasks = 8;
};

bool parse(int argc, char** argv, options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto number = [&](std::size_t& out) {
      if (i + 1 >= argc) return false;
      out = std::strtoull(argv[++i], nullptr, 10);
      return out > 0;
    };
    if (a == "--quick") {
      o.tasks = 500;
      o.large_tasks = 4;
    } else if (!((a == "--tasks" && number(o.tasks)) || (a == "--tiny-n" && number(o.tiny_n)) ||
                 (a == "--large-mib" && number(o.large_mib)) || (a == "--large-tasks" && number(o.large_tasks)))) {
      std::fprintf(stderr,
                   "usage: ec_bench_executor [--quick] [--tasks N] [--tiny-n N] [--large-mib M] [--large-tasks N]\n");
      return false;
    }
  }
  return true;
}

/// A temporary state folder for the workers, removed at the end.
struct temp_folder {
  fs::path path;
  temp_folder() {
    std::random_device rd;
    path = fs::temp_directory_path() / ("ec-bench-executor-" + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~temp_folder() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

/// One saxpy input set and the requests made from it.
struct workload {
  kernels::sample sample;
  std::vector<protocol::tensor_ref> refs;
  explicit workload(std::size_t n) {
    const std::uint64_t dims[] = {n};
    sample = kernels::find_kernel("saxpy")->generate(std::span<const std::uint64_t>(dims), 7,
                                                     kernels::sample_data::ordinary);
    for (const auto& t : sample.inputs) refs.push_back(t.ref());
  }
  [[nodiscard]] std::size_t bytes_moved() const {  // inputs in, one output of the same size out
    std::size_t b = 0;
    for (const auto& t : sample.inputs) b += t.data.size();
    return b + sample.inputs.front().data.size();
  }
  agent::execution_request request(std::size_t i) const {
    agent::execution_request r;
    r.task_id = "t" + std::to_string(i);
    r.call = *kernels::find_kernel("saxpy")->bind(sample.params, refs);
    r.deadline = backends::clock::now() + std::chrono::minutes(5);
    return r;
  }
};

/// Counts completions and wakes the waiter; records each task's submit-to-done time.
struct completions {
  std::mutex m;
  std::condition_variable cv;
  std::size_t done = 0, failed = 0;
  std::string first_error;
  agent::executor::completion make() {
    return [this](agent::execution_outcome o) {
      std::lock_guard lock(m);
      ++done;
      if (o.status != protocol::result_status::ok) {
        ++failed;
        if (first_error.empty()) first_error = o.error;
      }
      cv.notify_all();
    };
  }
  void wait(std::size_t n) {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return done >= n; });
  }
};

double us_since(steady::time_point t0) { return std::chrono::duration<double, std::micro>(steady::now() - t0).count(); }

struct run_figures {
  bench::percentiles one_at_a_time_us;  // submit -> completion, one task in flight
  double pipelined_us = 0;              // wall time / tasks, all submitted at once
  std::size_t failed = 0;
  std::string error;
};

run_figures run_tasks(agent::executor& ex, const workload& w, std::size_t tasks) {
  run_figures f;
  completions c;
  std::vector<double> each;
  each.reserve(tasks);
  for (std::size_t i = 0; i < tasks; ++i) {
    const auto t0 = steady::now();
    ex.submit(w.request(i), c.make());
    c.wait(i + 1);
    each.push_back(us_since(t0));
  }
  f.one_at_a_time_us = bench::percentiles_of(each);
  const auto t0 = steady::now();
  for (std::size_t i = 0; i < tasks; ++i) ex.submit(w.request(tasks + i), c.make());
  c.wait(2 * tasks);
  f.pipelined_us = us_since(t0) / static_cast<double>(tasks);
  f.failed = c.failed;
  f.error = c.first_error;
  return f;
}

/// p50 of a 64-byte round trip through two pipes to a child process that echoes.
double pipe_round_trip_us(std::size_t trips) {
  int to_child[2], to_parent[2];
  if (::pipe(to_child) != 0 || ::pipe(to_parent) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(to_child[1]);  // else the child's own write end keeps its read from ever seeing end of file
    ::close(to_parent[0]);
    char buf[64];
    while (::read(to_child[0], buf, sizeof buf) == static_cast<ssize_t>(sizeof buf))
      if (::write(to_parent[1], buf, sizeof buf) != static_cast<ssize_t>(sizeof buf)) break;
    ::_exit(0);
  }
  ::close(to_child[0]);
  ::close(to_parent[1]);
  char buf[64] = {};
  std::vector<double> each;
  for (std::size_t i = 0; i < trips; ++i) {
    const auto t0 = steady::now();
    if (::write(to_child[1], buf, sizeof buf) != static_cast<ssize_t>(sizeof buf)) break;
    if (::read(to_parent[0], buf, sizeof buf) != static_cast<ssize_t>(sizeof buf)) break;
    each.push_back(us_since(t0));
  }
  ::close(to_child[1]);
  ::close(to_parent[0]);
  ::waitpid(pid, nullptr, 0);
  return bench::percentiles_of(each).p50;
}

/// memcpy bandwidth over `bytes` (best of five), GB/s.
double memcpy_gb_per_s(std::size_t bytes) {
  std::vector<char> a(bytes, 1), b(bytes, 0);
  double best = 0;
  for (int i = 0; i < 5; ++i) {
    const auto t0 = steady::now();
    std::memcpy(b.data(), a.data(), bytes);
    best = std::max(best, static_cast<double>(bytes) / (us_since(t0) * 1e3));
  }
  return b[bytes / 2] == 1 ? best : 0;
}

void print_workers_memory(const char* when) {
  for (const auto pid : bench::child_pids(::getpid())) {
    const auto m = bench::read_memory(pid);
    std::printf("| worker %d, %s | %.1f | %.1f | %.1f | %.1f |\n", static_cast<int>(pid), when,
                static_cast<double>(m.rss_kib) / 1024, static_cast<double>(m.pss_kib) / 1024,
                static_cast<double>(m.uss_kib) / 1024, static_cast<double>(m.hwm_kib) / 1024);
  }
}

void print_self_memory(const char* when) {
  const auto m = bench::read_memory(::getpid());
  std::printf("| bench process (agent side; holds the test tensors), %s | %.1f | %.1f | %.1f | %.1f |\n", when,
              static_cast<double>(m.rss_kib) / 1024, static_cast<double>(m.pss_kib) / 1024,
              static_cast<double>(m.uss_kib) / 1024, static_cast<double>(m.hwm_kib) / 1024);
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  if (!parse(argc, argv, o)) return 2;
  auto reg = backends::registry::from_backends([] {
    std::vector<std::unique_ptr<backends::backend>> b;
    backends::backend_options bo;
    bo.cpu_threads = 1;
    b.push_back(backends::make_cpu_backend(bo));
    return b;
  }());
  backends::selection_options so;
  so.calibrate = false;
  backends::device_selector sel(*reg, so);
  if (auto r = sel.evaluate(); !r) {
    std::fprintf(stderr, "ec_bench_executor: %s\n", r.err().what().c_str());
    return 1;
  }
  temp_folder state;
  agent::worker_executor_options wo;
  wo.binary = EC_AGENT_BINARY;
  wo.state_dir = state.path;
  wo.module_dir = EC_MODULE_DIR;
  wo.disabled_backends = {"vulkan", "opencl"};
  wo.cpu_threads = 1;
  wo.idle_priority = false;  // SCHED_IDLE would measure the machine's other load, not the worker path

  const workload tiny(o.tiny_n);
  const workload large(o.large_mib << 18);  // MiB of f32 per input
  const double pipe_us = pipe_round_trip_us(o.tasks);
  const double copy_gbs = memcpy_gb_per_s(large.bytes_moved());

  std::printf(
      "ec_bench_executor: saxpy, CPU backend, 1 slot, 1 thread; %zu tiny tasks (n = %zu) per mode, %zu "
      "large tasks (%zu MiB per tensor); %u hardware threads\n\n",
      o.tasks, o.tiny_n, o.large_tasks, o.large_mib, std::thread::hardware_concurrency());
  std::printf("| memory | RSS MiB | PSS MiB | USS MiB | peak RSS MiB |\n|---|---:|---:|---:|---:|\n");
  print_self_memory("before any executor");

  run_figures in_tiny, in_large, w_tiny, w_large;
  {
    agent::in_process_executor ex(sel, 1);
    (void)run_tasks(ex, tiny, o.tasks / 10);  // warm-up: pools, page faults
    in_tiny = run_tasks(ex, tiny, o.tasks);
    in_large = run_tasks(ex, large, o.large_tasks);
  }
  print_self_memory("after the in-process runs");
  {
    agent::worker_process_executor ex(sel, 1, wo);
    if (!ex.wait_started(std::chrono::seconds(30))) {
      std::fprintf(stderr, "ec_bench_executor: the worker did not start\n");
      return 1;
    }
    print_workers_memory("idle after start");
    (void)run_tasks(ex, tiny, o.tasks / 10);
    w_tiny = run_tasks(ex, tiny, o.tasks);
    print_workers_memory("after the tiny tasks");
    w_large = run_tasks(ex, large, o.large_tasks);
    print_workers_memory("after the large tasks");
  }
  print_self_memory("after the worker runs");

  for (const auto* f : {&in_tiny, &in_large, &w_tiny, &w_large}) {
    if (f->failed > 0) {
      std::fprintf(stderr, "ec_bench_executor: %zu tasks failed: %s\n", f->failed, f->error.c_str());
      return 1;
    }
  }
  const double overhead_p50 = w_tiny.one_at_a_time_us.p50 - in_tiny.one_at_a_time_us.p50;
  const double overhead_pipe = w_tiny.pipelined_us - in_tiny.pipelined_us;
  std::printf(
      "\n| tiny task (us per task) | in process | worker | worker overhead | limit | overhead / target |\n"
      "|---|---:|---:|---:|---:|---:|\n");
  std::printf("| one at a time, p50 | %.1f | %.1f | %.1f | %.1f (pipe round trip p50) | %.2f |\n",
              in_tiny.one_at_a_time_us.p50, w_tiny.one_at_a_time_us.p50, overhead_p50, pipe_us,
              overhead_p50 / target_overhead_us);
  std::printf("| one at a time, p99 | %.1f | %.1f | %.1f | – | – |\n", in_tiny.one_at_a_time_us.p99,
              w_tiny.one_at_a_time_us.p99, w_tiny.one_at_a_time_us.p99 - in_tiny.one_at_a_time_us.p99);
  std::printf("| pipelined (wall / tasks) | %.1f | %.1f | %.1f | – | %.2f |\n", in_tiny.pipelined_us,
              w_tiny.pipelined_us, overhead_pipe, overhead_pipe / target_overhead_us);
  const double moved_mib = static_cast<double>(large.bytes_moved()) / (1 << 20);
  const double copy_us = static_cast<double>(large.bytes_moved()) / (copy_gbs * 1e3);
  std::printf(
      "\n| large task (%.0f MiB moved) | in process | worker | worker extra | limit | extra / limit |\n"
      "|---|---:|---:|---:|---:|---:|\n",
      moved_mib);
  std::printf("| one at a time, p50 (ms) | %.2f | %.2f | %.2f | %.2f (memcpy of %.0f MiB at %.1f GB/s) | %.2f |\n",
              in_large.one_at_a_time_us.p50 / 1e3, w_large.one_at_a_time_us.p50 / 1e3,
              (w_large.one_at_a_time_us.p50 - in_large.one_at_a_time_us.p50) / 1e3, copy_us / 1e3, moved_mib, copy_gbs,
              (w_large.one_at_a_time_us.p50 - in_large.one_at_a_time_us.p50) / copy_us);
  return 0;
}
