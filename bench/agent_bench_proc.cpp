// Options, statistics and readings of another process (/proc, strip, perf/strace) for ec_bench_agent.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>
#include <thread>

#include "agent_bench.hpp"
#include "mosquitto_broker.hpp"

extern char** environ;

namespace ec::bench {
namespace fs = std::filesystem;

namespace {

std::string read_text(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// "Key:   123 kB" lines of /proc files; -1 when absent.
long kib_field(const std::string& text, std::string_view key) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(key, 0) == 0 && line.size() > key.size() && line[key.size()] == ':') {
      return std::strtol(line.c_str() + key.size() + 1, nullptr, 10);
    }
  }
  return -1;
}

bool parse_number(const char* text, std::uint64_t& out) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0') return false;
  out = v;
  return true;
}

void usage(const char* argv0) {
  std::fprintf(
      stderr,
      "usage: %s [--quick] [--tasks N] [--warmup N] [--agent PATH] [--max-tasks N] [--max-slots N]\n"
      "          [--result-batch-max N] [--result-batch-ms N] [--cpu-threads N] [--aggregator-batch N]\n"
      "          [--set KEY=TOML_VALUE]...  (more agent config, e.g. --set agent.executor=\\\"in_process\\\")\n"
      "          [--rtt-messages N] [--rate-messages N] [--restarts N]\n"
      "  --quick: 2,000 tasks, 200 warm-up, 500 + 5,000 mosquitto round trips, 3 restarts\n",
      argv0);
}

}  // namespace

std::optional<bench_options> parse_options(int argc, char** argv) {
  bench_options o;
#ifdef EC_AGENT_BINARY
  o.agent_binary = EC_AGENT_BINARY;
#endif
  struct numeric {
    const char* flag;
    std::uint64_t* value;
  };
  std::uint64_t tasks = o.tasks, warmup = o.warmup, rtt = o.rtt_messages, rate = o.rate_messages,
                restarts = static_cast<std::uint64_t>(o.restarts), max_tasks = o.max_tasks, slots = o.max_slots,
                rbm = o.result_batch_max, rbms = o.result_batch_ms, threads = o.cpu_threads, agg = o.aggregator_batch;
  const numeric flags[] = {{"--tasks", &tasks},         {"--warmup", &warmup},        {"--rtt-messages", &rtt},
                           {"--rate-messages", &rate},  {"--restarts", &restarts},    {"--max-tasks", &max_tasks},
                           {"--max-slots", &slots},     {"--result-batch-max", &rbm}, {"--result-batch-ms", &rbms},
                           {"--cpu-threads", &threads}, {"--aggregator-batch", &agg}};
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--quick") {
      tasks = 2000, warmup = 200, rtt = 500, rate = 5000, restarts = 3;
      continue;
    }
    if (a == "--set" && i + 1 < argc) {
      const std::string_view kv = argv[++i];
      const auto eq = kv.find('=');
      if (eq == std::string_view::npos) {
        usage(argv[0]);
        return std::nullopt;
      }
      o.extra[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
      continue;
    }
    if (a == "--agent" && i + 1 < argc) {
      o.agent_binary = argv[++i];
      continue;
    }
    const auto f = std::find_if(std::begin(flags), std::end(flags), [&](const numeric& n) { return a == n.flag; });
    if (f == std::end(flags) || i + 1 >= argc || !parse_number(argv[i + 1], *f->value)) {
      usage(argv[0]);
      return std::nullopt;
    }
    ++i;
  }
  o.tasks = std::max<std::uint64_t>(tasks, 1), o.warmup = warmup, o.rtt_messages = std::max<std::uint64_t>(rtt, 1);
  o.rate_messages = std::max<std::uint64_t>(rate, 1),
  o.restarts = static_cast<int>(std::max<std::uint64_t>(restarts, 1));
  o.max_tasks = static_cast<std::uint32_t>(max_tasks), o.max_slots = static_cast<std::uint32_t>(slots);
  o.result_batch_max = static_cast<std::uint32_t>(rbm), o.result_batch_ms = static_cast<std::uint32_t>(rbms);
  o.cpu_threads = static_cast<std::uint32_t>(threads), o.aggregator_batch = static_cast<std::uint32_t>(agg);
  if (o.agent_binary.empty()) {
    usage(argv[0]);
    return std::nullopt;
  }
  return o;
}

percentiles percentiles_of(std::vector<double> values) {
  if (values.empty()) return {};
  std::sort(values.begin(), values.end());
  auto rank = [&](double q) {
    const auto r = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
    return values[std::clamp<std::size_t>(r, 1, values.size()) - 1];
  };
  return {rank(0.50), rank(0.99)};
}

double process_cpu_seconds(pid_t pid) {
  const std::string text = read_text("/proc/" + std::to_string(pid) + "/stat");
  // The command name (field 2) may hold spaces and parentheses: fields are counted after its closing ')'.
  const auto close = text.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(text.substr(close + 2));
  std::string f;
  unsigned long long utime = 0, stime = 0;
  for (int field = 3; fields >> f; ++field) {
    if (field == 14) utime = std::strtoull(f.c_str(), nullptr, 10);
    if (field == 15) {
      stime = std::strtoull(f.c_str(), nullptr, 10);
      return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
    }
  }
  return -1;
}

memory_figures read_memory(pid_t pid) {
  const std::string base = "/proc/" + std::to_string(pid);
  const std::string rollup = read_text(base + "/smaps_rollup");
  memory_figures m;
  m.rss_kib = kib_field(rollup, "Rss");
  m.pss_kib = kib_field(rollup, "Pss");
  const long clean = kib_field(rollup, "Private_Clean"), dirty = kib_field(rollup, "Private_Dirty");
  if (clean >= 0 && dirty >= 0) m.uss_kib = clean + dirty;
  m.hwm_kib = kib_field(read_text(base + "/status"), "VmHWM");
  return m;
}

std::vector<pid_t> child_pids(pid_t parent) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const auto name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string stat = read_text(e.path() / "stat");
    const auto close_paren = stat.rfind(')');  // the command name may hold spaces and parentheses
    if (close_paren == std::string::npos) continue;
    char state = 0;
    long ppid = 0;
    if (std::sscanf(stat.c_str() + close_paren + 1, " %c %ld", &state, &ppid) == 2 && ppid == parent)
      out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

memory_figures read_memory_sum(const std::vector<pid_t>& pids) {
  memory_figures sum{0, 0, 0, 0};
  auto add = [](long& into, long v) { into = (into < 0 || v < 0) ? -1 : into + v; };
  for (const auto pid : pids) {
    const auto m = read_memory(pid);
    add(sum.rss_kib, m.rss_kib);
    add(sum.pss_kib, m.pss_kib);
    add(sum.uss_kib, m.uss_kib);
    sum.hwm_kib = std::max(sum.hwm_kib, m.hwm_kib);
  }
  return sum;
}

binary_size measure_binary(const fs::path& binary) {
  binary_size s;
  std::error_code ec;
  const auto size = fs::file_size(binary, ec);
  if (ec) return s;
  s.unstripped = static_cast<long long>(size);
  std::string templ = (fs::temp_directory_path() / "ec-bench-strip-XXXXXX").string();
  if (::mkdtemp(templ.data()) == nullptr) return s;
  const fs::path dir = templ, copy = dir / "edge-agent";
  if (fs::copy_file(binary, copy, ec) && ec::test::run_command({"strip", copy.string()}, dir / "strip.log") == 0) {
    s.stripped = static_cast<long long>(fs::file_size(copy, ec));
  }
  fs::remove_all(dir, ec);
  return s;
}

syscall_counter::~syscall_counter() { (void)stop(); }

bool syscall_counter::launch(const std::vector<std::string>& argv, const std::string& ready_marker,
                             const fs::path& log) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const int rc = ::posix_spawnp(&pid_, argv[0].c_str(), &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    pid_ = -1;
    return false;
  }
  // Counting has begun once the tool says so (strace: "attached"; perf: its first interval line in the output).
  const auto deadline = steady::now() + std::chrono::seconds(10);
  while (steady::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {  // the tool gave up (not installed, no permission)
      pid_ = -1;
      return false;
    }
    if (read_text(log).find(ready_marker) != std::string::npos ||
        read_text(out_).find(ready_marker) != std::string::npos)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling another process's output file
  }
  (void)stop();
  return false;
}

bool syscall_counter::start(pid_t pid, const fs::path& work_dir) {
  const std::string p = std::to_string(pid);
  out_ = work_dir / "fdatasync-count.txt";
  tool_ = "perf";
  // -I 100: an interval line every 100 ms; the first one proves the tracepoint is counting.
  if (launch(
          {"perf", "stat", "-x", ",", "-I", "100", "-e", "syscalls:sys_enter_fdatasync", "-p", p, "-o", out_.string()},
          "syscalls:sys_enter_fdatasync", work_dir / "perf.log"))
    return true;
  tool_ = "strace";
  if (launch({"strace", "-f", "-c", "-e", "trace=fdatasync", "-p", p, "-o", out_.string()}, "attached",
             work_dir / "strace.log"))
    return true;
  tool_.clear();
  return false;
}

std::optional<std::uint64_t> syscall_counter::stop() {
  if (pid_ <= 0) return std::nullopt;
  ::kill(pid_, SIGINT);  // both tools print their totals on SIGINT and detach
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  std::istringstream lines(read_text(out_));
  std::uint64_t total = 0;
  bool seen = false;
  for (std::string line; std::getline(lines, line);) {
    if (line.find("fdatasync") == std::string::npos) continue;
    if (tool_ == "perf") {  // "time,count,unit,event,..."
      std::istringstream cells(line);
      std::string time, count;
      std::getline(cells, time, ',');
      std::getline(cells, count, ',');
      std::uint64_t n = 0;
      if (parse_number(count.c_str(), n)) total += n, seen = true;
    } else {  // "% time seconds usecs/call calls [errors] fdatasync"
      std::istringstream words(line);
      std::vector<std::string> w;
      for (std::string s; words >> s;) w.push_back(s);
      std::uint64_t n = 0;
      if (w.size() >= 5 && parse_number(w[3].c_str(), n)) total += n, seen = true;
    }
  }
  if (tool_ == "strace" && !seen) return 0;  // strace omits syscalls never called
  return seen ? std::optional<std::uint64_t>(total) : std::nullopt;
}

}  // namespace ec::bench
