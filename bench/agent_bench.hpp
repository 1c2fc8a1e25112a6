// Shared pieces of ec_bench_agent (issue 4, "Benchmark"): options, process readings from /proc, a syscall counter
// attached to the agent, and mosquitto's own QoS 1 limit measured through the same broker.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ec::bench {

using steady = std::chrono::steady_clock;

/// Command line of ec_bench_agent; the agent's batching settings are tuned for throughput by default.
struct bench_options {
  std::string agent_binary;                  // edge-agent; default: the one built with this bench
  std::size_t tasks = 20000;                 // measured end-to-end tasks
  std::size_t warmup = 1000;                 // run first, not measured (connections, allocator, page cache)
  std::size_t saxpy_n = 1024;                // elements per task
  std::size_t rtt_messages = 2000;           // mosquitto round trips one at a time (latency)
  std::size_t rate_messages = 20000;         // mosquitto round trips with a window (throughput)
  std::size_t rate_window = 100;             // round trips outstanding in the throughput pass
  int restarts = 5;                          // warm starts timed (median reported)
  std::uint32_t max_tasks = 256;             // agent.max_tasks: prefetch depth
  std::uint32_t max_slots = 2;               // agent.max_slots: tasks running at once
  std::uint32_t result_batch_max = 128;      // agent.result_batch_max
  std::uint32_t result_batch_ms = 20;        // agent.result_batch_ms
  std::uint32_t cpu_threads = 1;             // devices.cpu_threads (1: exec_us is then CPU time, see overhead)
  std::uint32_t aggregator_batch = 256;      // test_aggregator max_tasks_per_batch
  std::map<std::string, std::string> extra;  // --set KEY=VALUE: more agent config (TOML value text), e.g. executor
};

/// Parses argv into options; prints usage and returns nothing on --help or an error.
std::optional<bench_options> parse_options(int argc, char** argv);

/// p50 and p99 of a sample (nearest rank); zeros when empty.
struct percentiles {
  double p50 = 0;
  double p99 = 0;
};
percentiles percentiles_of(std::vector<double> values);

/// utime + stime of a process in seconds (/proc/<pid>/stat; all threads); -1 when unreadable.
double process_cpu_seconds(pid_t pid);

/// /proc/<pid>/smaps_rollup: Rss, Pss and USS (Private_Clean + Private_Dirty), KiB; VmHWM from /proc/<pid>/status.
struct memory_figures {
  long rss_kib = -1;
  long pss_kib = -1;
  long uss_kib = -1;
  long hwm_kib = -1;
};
memory_figures read_memory(pid_t pid);
/// The processes whose parent is `parent` (the agent's workers), from /proc/<pid>/stat.
std::vector<pid_t> child_pids(pid_t parent);
/// read_memory summed over `pids` (peak: the largest); -1 fields when a process could not be read.
memory_figures read_memory_sum(const std::vector<pid_t>& pids);

/// Size of a binary and of a stripped copy of it (`strip` on a temp copy); -1 where it failed.
struct binary_size {
  long long unstripped = -1;
  long long stripped = -1;
};
binary_size measure_binary(const std::filesystem::path& binary);

/// Counts fdatasync calls of a running process and its threads from outside: `perf stat` on the syscall
/// tracepoint when perf works (no ptrace stops, so the agent runs at full speed), else `strace -c -f` (which stops
/// the agent at every syscall and slows it: the figure says which tool counted).
class syscall_counter {
 public:
  syscall_counter() = default;
  ~syscall_counter();
  syscall_counter(const syscall_counter&) = delete;
  syscall_counter& operator=(const syscall_counter&) = delete;

  /// Attaches to `pid` and returns once counting runs (false when neither tool could attach).
  bool start(pid_t pid, const std::filesystem::path& work_dir);
  /// Detaches; returns the fdatasync calls counted since start(), or nothing.
  std::optional<std::uint64_t> stop();
  [[nodiscard]] const std::string& tool() const { return tool_; }

 private:
  bool launch(const std::vector<std::string>& argv, const std::string& ready_marker, const std::filesystem::path& log);
  pid_t pid_ = -1;
  std::string tool_;
  std::filesystem::path out_;
};

/// mosquitto's own limit through the broker under test: QoS 1 round trips (A publishes, B echoes, A receives).
struct mqtt_limit {
  percentiles rtt_us;            // one round trip outstanding at a time
  double round_trips_per_s = 0;  // with `window` outstanding
  std::size_t window = 0;
  std::size_t payload_bytes = 0;
  std::uint16_t receive_maximum = 0;
  bool ok = false;
  std::string error;
};

/// Where the echo runs: an aggregator-ACL user publishes to the echo user's tasks topic, the echo user (agent ACL)
/// republishes each message to the region's results topic, which the aggregator user reads.
struct echo_endpoints {
  std::string url;
  std::string region;
  std::string aggregator_user, aggregator_password;
  std::string echo_user, echo_password;
};
mqtt_limit measure_mqtt_limit(const echo_endpoints& where, const bench_options& o);

}  // namespace ec::bench
