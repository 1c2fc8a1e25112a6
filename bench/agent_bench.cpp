// The issue-4 agent benchmark, in one run on this machine, each figure beside its target or the machine's limit:
//   1. end to end on loopback: one real edge-agent (CPU backend only), the test aggregator in this process,
//      saxpy n = 1024 tasks: tasks/s and p50/p99 latency from TaskBatch publish to receipt, beside mosquitto's own
//      QoS 1 round trip and rate through the same broker (target >= 5,000 tasks/s);
//   2. agent CPU per task excluding the kernel (target <= 100 us) and fdatasyncs per task;
//   3. footprint: binary size (stripped), idle RSS/PSS/USS, start to ready cold and warm (target <= 250 ms warm).
// Usage: ec_bench_agent [--quick] [--tasks N] ... (--help lists the flags)
#include "agent_bench.hpp"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <thread>

#include "agent_process.hpp"
#include "ec/kernels/catalog.hpp"
#include "mosquitto_broker.hpp"
#include "test_aggregator.hpp"

using namespace ec;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr double target_tasks_per_s = 5000;
constexpr double target_overhead_us = 100;
constexpr double target_warm_start_ms = 250;
const std::string echo_user = "bench-echo";
const std::string echo_password = "pw-bench-echo";

// KiB or bytes as MiB (sizes far below 2^53: the conversion is exact).
double mib_of_kib(long kib) { return static_cast<double>(kib) / 1024.0; }
double mib_of_bytes(long long bytes) { return static_cast<double>(bytes) / 1048576.0; }

double ms_between(bench::steady::time_point a, bench::steady::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// Broker, aggregator and one agent (CPU backend only, as agent_process configures it), wired like the
// integration tests' region_fixture but without doctest.
struct bench_region {
  explicit bench_region(const bench::bench_options& o) : aggregator(aggregator_options(o)) {
    broker.add_user("aggregator", "pw-aggregator");
    broker.add_user(echo_user, echo_password);
    test::agent_process_options a;
    a.binary = o.agent_binary;
    a.aggregator_key_pems = {aggregator.public_key_pem()};
    a.settings = agent_settings(o);
    agent = std::make_unique<test::agent_process>(broker, std::move(a));
    broker.start();
  }
  static test::test_aggregator_options aggregator_options(const bench::bench_options& o) {
    test::test_aggregator_options t;
    t.max_tasks_per_batch = o.aggregator_batch;
    return t;
  }
  static std::map<std::string, std::string> agent_settings(const bench::bench_options& o) {
    std::map<std::string, std::string> s{
        {"agent.max_tasks", std::to_string(o.max_tasks)},
        {"agent.max_slots", std::to_string(o.max_slots)},
        {"agent.result_batch_max", std::to_string(o.result_batch_max)},
        {"agent.result_batch_ms", std::to_string(o.result_batch_ms)},
        {"devices.cpu_threads", std::to_string(o.cpu_threads)},
        {"log.level", "\"warn\""}};  // one info line per event would measure the log, not the agent
    for (const auto& [k, v] : o.extra) s[k] = v;
    return s;
  }
  const std::string& id() const { return agent->agent_id(); }

  test::mosquitto_broker broker;
  test::test_aggregator aggregator;
  std::unique_ptr<test::agent_process> agent;
};

// `count` saxpy tasks with the same generated inputs and distinct ids (the agent's replay guard keys on the id).
std::vector<protocol::task> make_saxpy_tasks(std::size_t count, std::size_t n, const std::string& prefix) {
  const auto* spec = kernels::find_kernel("saxpy");
  const auto s = spec->generate(std::vector<std::uint64_t>{n}, 1, kernels::sample_data::ordinary);
  std::vector<protocol::tensor_ref> refs;
  for (const auto& t : s.inputs) refs.push_back(t.ref());
  const auto call = spec->bind(s.params, refs);
  if (!call) throw std::runtime_error("saxpy bind: " + call.err().what());
  protocol::task base;
  base.job_id = "bench";
  base.kernel = std::string(spec->name);
  base.kernel_version = spec->version;
  base.params = s.params;
  base.inputs = s.inputs;
  for (const auto& o : call->outputs) base.outputs.push_back(protocol::tensor{o.name, o.type, o.shape, {}});
  base.validation = spec->validation;
  base.rtol = spec->rtol;
  base.atol = spec->atol;
  std::vector<protocol::task> tasks(count, base);
  for (std::size_t i = 0; i < count; ++i) tasks[i].task_id = prefix + std::to_string(i);
  return tasks;
}

// Waits (bounded) until the agent's status file reports an empty spool: every receipt processed.
bool wait_spool_empty(test::agent_process& agent, std::chrono::seconds timeout) {
  const auto deadline = bench::steady::now() + timeout;
  while (bench::steady::now() < deadline) {
    const auto [rc, text] = agent.run_cli({"status", "--config", agent.config_path().string()});
    if (rc == 0 && text.find("spool_pending_batches 0\n") != std::string::npos) return true;
    std::this_thread::sleep_for(100ms);  // polling another process's status file (rewritten every 2 s)
  }
  return false;
}

bool run_batch(bench_region& r, std::vector<protocol::task> tasks, std::chrono::seconds timeout) {
  const std::uint64_t want = r.aggregator.counters().results_accepted + tasks.size();
  r.aggregator.queue_tasks(r.id(), std::move(tasks));
  return r.aggregator.wait_until([want](const test::aggregator_counters& c) { return c.results_accepted >= want; },
                                 timeout);
}

// ---- footprint ---------------------------------------------------------------------------------------------

struct start_figures {
  double cold_ms = -1;
  std::vector<double> warm_ms;
  bench::memory_figures idle;
  bench::memory_figures idle_workers;  // summed over the worker processes (one per resource group and slot)
  std::size_t workers = 0;
  bench::binary_size binary;
  double warm_median() const { return bench::percentiles_of(warm_ms).p50; }
};

// Spawn to the aggregator holding the agent's online hello (a session_seq above the last one seen).
double timed_start(bench_region& r) {
  const auto before = r.aggregator.agent(r.id());
  const auto t0 = bench::steady::now();
  r.agent->start();
  const bool hello = r.aggregator.wait_hello(r.id(), 30s, before ? std::optional(before->session_seq) : std::nullopt);
  return hello ? ms_between(t0, bench::steady::now()) : -1;
}

start_figures measure_footprint(bench_region& r, const bench::bench_options& o) {
  start_figures f;
  f.binary = bench::measure_binary(o.agent_binary);
  f.cold_ms = timed_start(r);  // fresh state dir: the probe runs its self-tests and caches them
  std::uint64_t requests = 0;
  for (int i = 0; i < o.restarts; ++i) {
    r.agent->terminate();
    requests = r.aggregator.counters().work_requests;
    f.warm_ms.push_back(timed_start(r));
  }
  // Idle = connected, hello sent and the first WorkRequest of this run long-polled by the aggregator, nothing run.
  if (r.aggregator.wait_until([&](const test::aggregator_counters& c) { return c.work_requests > requests; }, 10s)) {
    f.idle = bench::read_memory(r.agent->pid());
    const auto workers = bench::child_pids(r.agent->pid());
    f.workers = workers.size();
    f.idle_workers = bench::read_memory_sum(workers);
  }
  return f;
}

// ---- end to end --------------------------------------------------------------------------------------------

struct e2e_figures {
  std::size_t tasks = 0;
  double tasks_per_s = 0;
  bench::percentiles latency_us;
  double agent_cpu_s = 0;
  double exec_us_sum = 0;
  std::optional<std::uint64_t> fdatasyncs;
  std::string sync_tool;
  std::uint64_t task_batches = 0, result_batches = 0;
  bench::memory_figures after;
  bench::memory_figures after_workers;  // summed over the worker processes
  std::string error;
  double overhead_us() const { return (agent_cpu_s * 1e6 - exec_us_sum) / static_cast<double>(tasks); }
};

// Rate, latency and kernel time of the tasks whose ids start with `prefix`.
void collect_timings(const bench_region& r, const std::string& prefix, e2e_figures& e) {
  const auto timings = r.aggregator.task_timings();
  const auto accepted = r.aggregator.accepted();
  std::vector<double> latency;
  auto first = bench::steady::time_point::max(), last = bench::steady::time_point::min();
  for (const auto& [key, t] : timings) {
    if (key.first.rfind(prefix, 0) != 0 || t.receipted == bench::steady::time_point{}) continue;
    latency.push_back(std::chrono::duration<double, std::micro>(t.receipted - t.issued).count());
    first = std::min(first, t.issued);
    last = std::max(last, t.receipted);
  }
  for (const auto& [key, rec] : accepted)
    if (key.first.rfind(prefix, 0) == 0 && rec.result.timing)
      e.exec_us_sum += static_cast<double>(rec.result.timing->exec_us);
  e.latency_us = bench::percentiles_of(latency);
  if (!latency.empty()) e.tasks_per_s = static_cast<double>(latency.size()) / (ms_between(first, last) / 1e3);
  if (latency.size() != e.tasks)
    e.error = std::to_string(latency.size()) + " of " + std::to_string(e.tasks) + " receipted";
}

e2e_figures measure_end_to_end(bench_region& r, const bench::bench_options& o) {
  e2e_figures e;
  e.tasks = o.tasks;
  if (o.warmup > 0 && !run_batch(r, make_saxpy_tasks(o.warmup, o.saxpy_n, "warm-"), 120s)) {
    e.error = "warm-up tasks did not all come back";
    return e;
  }
  wait_spool_empty(*r.agent, 30s);
  auto tasks = make_saxpy_tasks(o.tasks, o.saxpy_n, "task-");  // built before the clock starts
  bench::syscall_counter syncs;
  if (syncs.start(r.agent->pid(), r.agent->dir())) e.sync_tool = syncs.tool();
  const auto before = r.aggregator.counters();
  const double cpu0 = bench::process_cpu_seconds(r.agent->pid());
  const bool done = run_batch(r, std::move(tasks), std::chrono::seconds(60 + o.tasks / 100));
  // Receipts release spool entries (a journal commit each): part of what the agent spends per task.
  const bool drained = done && wait_spool_empty(*r.agent, 30s);
  e.agent_cpu_s = bench::process_cpu_seconds(r.agent->pid()) - cpu0;
  e.fdatasyncs = syncs.stop();
  const auto after = r.aggregator.counters();
  e.task_batches = after.task_batches_sent - before.task_batches_sent;
  e.result_batches = after.result_batches - before.result_batches;
  e.after = bench::read_memory(r.agent->pid());
  e.after_workers = bench::read_memory_sum(bench::child_pids(r.agent->pid()));
  collect_timings(r, "task-", e);
  if (!done) e.error = "timed out: " + std::to_string(after.results_accepted - before.results_accepted) + " results";
  if (done && !drained) e.error = "spool did not empty within 30 s after the last receipt";
  return e;
}

// ---- printing ----------------------------------------------------------------------------------------------

void print_mqtt(const bench::mqtt_limit& m) {
  std::printf(
      "\n1a. mosquitto's own limit, same broker, QoS 1, %zu-byte payloads, aggregator user -> echo user -> back\n",
      m.payload_bytes);
  if (!m.ok) {
    std::printf("   not measured: %s\n", m.error.c_str());
    return;
  }
  std::printf("   round trip, one outstanding   p50 %8.1f us   p99 %8.1f us\n", m.rtt_us.p50, m.rtt_us.p99);
  std::printf("   round trips/s, %zu outstanding (receive maximum %u): %.0f  (= %.0f QoS 1 messages/s)\n", m.window,
              m.receive_maximum, m.round_trips_per_s, 2 * m.round_trips_per_s);
}

void print_e2e(const e2e_figures& e, const bench::bench_options& o, const bench::mqtt_limit& m) {
  std::printf("\n1b. end to end, one agent, saxpy n = %zu, %zu tasks (after %zu warm-up)\n", o.saxpy_n, e.tasks,
              o.warmup);
  std::printf(
      "   settings: agent.max_tasks=%u agent.max_slots=%u agent.result_batch_max=%u agent.result_batch_ms=%u\n"
      "             devices.cpu_threads=%u, aggregator max_tasks_per_batch=%u, broker receive maximum 20\n",
      o.max_tasks, o.max_slots, o.result_batch_max, o.result_batch_ms, o.cpu_threads, o.aggregator_batch);
  for (const auto& [k, v] : o.extra) std::printf("             %s=%s\n", k.c_str(), v.c_str());
  if (!e.error.empty()) std::printf("   ERROR: %s\n", e.error.c_str());
  std::printf(
      "   tasks/s (first issue to last receipt): %.0f   target >= %.0f: %s   vs mosquitto round trips/s: %.2f\n",
      e.tasks_per_s, target_tasks_per_s, e.tasks_per_s >= target_tasks_per_s ? "MET" : "MISSED",
      m.ok ? e.tasks_per_s / m.round_trips_per_s : 0.0);
  std::printf("   latency publish -> receipt: p50 %.1f ms  p99 %.1f ms   (mosquitto round trip p50 %.3f ms)\n",
              e.latency_us.p50 / 1e3, e.latency_us.p99 / 1e3, m.rtt_us.p50 / 1e3);
  std::printf("   TaskBatches %llu (%.1f tasks each), ResultBatches %llu (%.1f results each)\n",
              static_cast<unsigned long long>(e.task_batches),
              e.task_batches ? static_cast<double>(e.tasks) / static_cast<double>(e.task_batches) : 0.0,
              static_cast<unsigned long long>(e.result_batches),
              e.result_batches ? static_cast<double>(e.tasks) / static_cast<double>(e.result_batches) : 0.0);
  std::printf(
      "\n2. agent CPU per task: %.1f us total, kernel exec %.1f us (results' timings.exec_us) -> overhead %.1f us"
      "   target <= %.0f: %s\n",
      e.agent_cpu_s * 1e6 / static_cast<double>(e.tasks), e.exec_us_sum / static_cast<double>(e.tasks), e.overhead_us(),
      target_overhead_us, e.overhead_us() <= target_overhead_us ? "MET" : "MISSED");
  if (e.fdatasyncs)
    std::printf("   fdatasyncs: %llu (%s) = %.4f per task, %.2f per ResultBatch\n",
                static_cast<unsigned long long>(*e.fdatasyncs), e.sync_tool.c_str(),
                static_cast<double>(*e.fdatasyncs) / static_cast<double>(e.tasks),
                e.result_batches ? static_cast<double>(*e.fdatasyncs) / static_cast<double>(e.result_batches) : 0.0);
  else
    std::printf("   fdatasyncs: not counted (neither perf nor strace could attach; the status file has no counter)\n");
}

void print_footprint(const start_figures& f, const e2e_figures& e) {
  std::printf("\n3. footprint\n");
  std::printf("   edge-agent binary: %.2f MiB unstripped, %.2f MiB stripped\n", mib_of_bytes(f.binary.unstripped),
              mib_of_bytes(f.binary.stripped));
  std::printf("   idle (connected, WorkRequest held, nothing run): RSS %ld KiB  PSS %ld KiB  USS %ld KiB\n",
              f.idle.rss_kib, f.idle.pss_kib, f.idle.uss_kib);
  std::printf("   after the end-to-end run: RSS %ld KiB  PSS %ld KiB  USS %ld KiB  peak RSS (VmHWM) %ld KiB\n",
              e.after.rss_kib, e.after.pss_kib, e.after.uss_kib, e.after.hwm_kib);
  std::printf("   its %zu worker process(es), idle: RSS %ld KiB  PSS %ld KiB  USS %ld KiB (summed)\n", f.workers,
              f.idle_workers.rss_kib, f.idle_workers.pss_kib, f.idle_workers.uss_kib);
  std::printf("   the workers after the run: RSS %ld KiB  PSS %ld KiB  USS %ld KiB (summed)\n", e.after_workers.rss_kib,
              e.after_workers.pss_kib, e.after_workers.uss_kib);
  std::printf("   start to ready (spawn -> online hello at the aggregator): cold %.1f ms, warm", f.cold_ms);
  for (const double w : f.warm_ms) std::printf(" %.1f", w);
  std::printf(" -> median %.1f ms   target <= %.0f: %s\n", f.warm_median(), target_warm_start_ms,
              f.warm_median() >= 0 && f.warm_median() <= target_warm_start_ms ? "MET" : "MISSED");
}

// figure | value | target or limit | ratio (value / target, or value / limit).
void print_summary(const e2e_figures& e, const bench::mqtt_limit& m, const start_figures& f) {
  std::printf("\nSummary\n| figure | value | target / limit | ratio |\n|---|---:|---:|---:|\n");
  auto row = [](const char* name, double v, const char* unit, const char* target, double ratio) {
    std::printf("| %s | %.1f %s | %s | %.2f |\n", name, v, unit, target, ratio);
  };
  char buf[96];
  row("end-to-end tasks/s", e.tasks_per_s, "", ">= 5,000 (target)", e.tasks_per_s / target_tasks_per_s);
  std::snprintf(buf, sizeof buf, "%.0f mosquitto round trips/s (limit)", m.round_trips_per_s);
  row("end-to-end tasks/s", e.tasks_per_s, "", buf, m.ok ? e.tasks_per_s / m.round_trips_per_s : 0);
  std::snprintf(buf, sizeof buf, "%.1f us mosquitto round trip p50 (limit)", m.rtt_us.p50);
  row("latency p50, publish -> receipt", e.latency_us.p50, "us", buf, m.ok ? e.latency_us.p50 / m.rtt_us.p50 : 0);
  std::snprintf(buf, sizeof buf, "%.1f us mosquitto round trip p99 (limit)", m.rtt_us.p99);
  row("latency p99, publish -> receipt", e.latency_us.p99, "us", buf, m.ok ? e.latency_us.p99 / m.rtt_us.p99 : 0);
  row("agent overhead per task (CPU - kernel)", e.overhead_us(), "us", "<= 100 us (target)",
      e.overhead_us() / target_overhead_us);
  if (e.fdatasyncs) {
    const double per_task = static_cast<double>(*e.fdatasyncs) / static_cast<double>(e.tasks);
    row("fdatasyncs per task", per_task, "", "reported (no target)", per_task);
  }
  row("binary, stripped", mib_of_bytes(f.binary.stripped), "MiB", "reported", mib_of_bytes(f.binary.stripped));
  row("idle RSS", mib_of_kib(f.idle.rss_kib), "MiB", "reported", mib_of_kib(f.idle.rss_kib));
  row("idle PSS", mib_of_kib(f.idle.pss_kib), "MiB", "reported", mib_of_kib(f.idle.pss_kib));
  row("idle USS", mib_of_kib(f.idle.uss_kib), "MiB", "reported", mib_of_kib(f.idle.uss_kib));
  const double idle_pss_all = mib_of_kib(f.idle.pss_kib + f.idle_workers.pss_kib);
  row("idle PSS, agent + its workers", idle_pss_all, "MiB", "reported", idle_pss_all);
  const double idle_uss_all = mib_of_kib(f.idle.uss_kib + f.idle_workers.uss_kib);
  row("idle USS, agent + its workers", idle_uss_all, "MiB", "reported", idle_uss_all);
  row("start to ready, warm (median)", f.warm_median(), "ms", "<= 250 ms (target)",
      f.warm_median() / target_warm_start_ms);
  row("start to ready, cold", f.cold_ms, "ms", "reported", f.cold_ms / target_warm_start_ms);
}

}  // namespace

int main(int argc, char** argv) {
  const auto o = bench::parse_options(argc, argv);
  if (!o) return 2;
  try {
    bench_region r(*o);
    // Before the aggregator connects: it would share the echo's deliveries on P/results.
    const auto limit = bench::measure_mqtt_limit(
        {r.broker.url(), "test", "aggregator", "pw-aggregator", echo_user, echo_password}, *o);
    r.aggregator.start(r.broker.url());
    const auto footprint = measure_footprint(r, *o);
    const auto e2e = measure_end_to_end(r, *o);
    std::printf("agent %s, broker %s, %u hardware threads\n", o->agent_binary.c_str(), r.broker.url().c_str(),
                std::thread::hardware_concurrency());
    print_mqtt(limit);
    print_e2e(e2e, *o, limit);
    print_footprint(footprint, e2e);
    print_summary(e2e, limit, footprint);
    r.agent->terminate();
    return e2e.error.empty() && limit.ok ? 0 : 1;
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "ec_bench_agent: %s\n", ex.what());
    return 1;
  }
}
