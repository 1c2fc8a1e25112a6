// Runs edge-agent with posix_spawn: the environment without EDGE_AGENT_* variables (so the developer's shell
// cannot change the test's configuration), stdout and stderr appended to one log file.
#include "agent_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace ec::test {
namespace fs = std::filesystem;

namespace {

std::string read_text(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_text(const fs::path& p, const std::string& text, mode_t mode) {
  {
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f << text;
    if (!f) throw std::runtime_error("agent_process: cannot write " + p.string());
  }
  if (::chmod(p.c_str(), mode) != 0) throw std::runtime_error("agent_process: chmod " + p.string());
}

std::string toml_string(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// The environment of this process without EDGE_AGENT_* variables.
std::vector<std::string> child_environment() {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, "EDGE_AGENT_", 11) == 0) continue;
    env.emplace_back(*e);
  }
  return env;
}

// posix_spawn with stdout to `out` and stderr to `err` (both appended), `extra_env` set; returns the pid.
pid_t spawn_logged(const std::vector<std::string>& argv, const fs::path& out, const fs::path& err,
                   const std::map<std::string, std::string>& extra_env = {}) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  auto env_strings = child_environment();
  for (const auto& entry : extra_env) {  // no structured binding: clang 14 cannot capture one in the lambda
    const std::string prefix = entry.first + "=";
    std::erase_if(env_strings, [&](const std::string& e) { return e.starts_with(prefix); });
    if (!entry.second.empty()) env_strings.push_back(prefix + entry.second);
  }
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, argv.at(0).c_str(), &fa, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("agent_process: posix_spawn " + argv.at(0) + ": " + std::strerror(rc));
  return pid;
}

int wait_blocking(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return decode_status(status);
}

std::string random_password() {
  std::random_device rd;
  static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string pw = "pw-";
  for (int i = 0; i < 24; ++i) pw += alphabet[rd() % (sizeof(alphabet) - 1)];
  return pw;
}

}  // namespace

agent_process::agent_process(mosquitto_broker& broker, agent_process_options options)
    : broker_(broker), options_(std::move(options)) {
  if (options_.binary.empty()) {
    if (const char* b = std::getenv("EC_AGENT_BINARY")) options_.binary = b;
  }
  if (options_.binary.empty()) throw std::runtime_error("agent_process: no edge-agent binary (EC_AGENT_BINARY)");
  std::string templ = (fs::temp_directory_path() / "ec-agent-XXXXXX").string();
  if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp: " + std::string(std::strerror(errno)));
  dir_ = templ;
  fs::create_directories(state_dir());
  ::chmod(state_dir().c_str(), 0700);

  // Identity: `edge-agent keygen` prints the agent_id on stdout.
  const fs::path out = dir_ / "keygen.out";
  const fs::path log = dir_ / "agent.log";
  const pid_t pid = spawn_logged({options_.binary, "keygen", "--state-dir", state_dir().string()}, out, log);
  const int rc = wait_blocking(pid);
  std::istringstream lines(read_text(out));
  for (std::string line; std::getline(lines, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.size() == 32 && line.find_first_not_of("0123456789abcdef") == std::string::npos) agent_id_ = line;
  }
  if (rc != 0 || agent_id_.empty()) {
    throw std::runtime_error("agent_process: edge-agent keygen failed (status " + std::to_string(rc) +
                             "): " + read_text(out) + read_text(log));
  }
  public_key_pem_ = read_text(state_dir() / "agent.pub");

  for (std::size_t i = 0; i < options_.aggregator_key_pems.size(); ++i) {
    write_text(dir_ / ("aggregator-" + std::to_string(i) + ".pem"), options_.aggregator_key_pems[i], 0644);
  }
  password_ = random_password();
  write_text(dir_ / "password", password_ + "\n", 0600);

  broker_.add_user(agent_id_, password_);
  if (broker_.running()) broker_.restart();  // mosquitto reads the password file at start
}

agent_process::~agent_process() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    wait_blocking(pid_);
    pid_ = -1;
  }
  if (std::getenv("EC_KEEP_AGENT_DIR") == nullptr) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

void agent_process::set(const std::string& dotted_key, const std::string& toml_value) {
  options_.settings[dotted_key] = toml_value;
}

void agent_process::set_env(const std::string& name, const std::string& value) { extra_env_[name] = value; }

void agent_process::write_config() const {
  // Test defaults: fast reconnects and resends, CPU only, quick republish; then the caller's settings.
  std::map<std::string, std::string> kv;
  kv["broker.url"] = toml_string(broker_.url());
  kv["broker.password_file"] = toml_string((dir_ / "password").string());
  kv["broker.reconnect_min_ms"] = "100";
  kv["broker.reconnect_max_ms"] = "1000";
  kv["agent.region"] = toml_string(options_.region);
  kv["agent.state_dir"] = toml_string(state_dir().string());
  kv["agent.work_request_resend_ms"] = "1000";
  kv["agent.result_batch_ms"] = "20";
  kv["agent.drain_timeout_s"] = "10";
  std::string keys = "[";
  for (std::size_t i = 0; i < options_.aggregator_key_pems.size(); ++i) {
    if (i > 0) keys += ", ";
    keys += toml_string((dir_ / ("aggregator-" + std::to_string(i) + ".pem")).string());
  }
  kv["trust.aggregator_keys"] = keys + "]";
  kv["devices.disabled_backends"] = R"(["vulkan", "opencl"])";
  kv["devices.cpu_threads"] = "2";
  // CTest runs two tests at once on a 2-core machine: idle-priority workers would starve behind the other test.
  // The idle priority itself is checked by the worker unit tests.
  kv["agent.worker_idle_priority"] = "false";
  kv["spool.republish_initial_s"] = "2";
  kv["spool.republish_max_s"] = "8";
  // The owner policy would read the test machine's own battery and thermal zones; its tests turn it on with a
  // fake sysfs root (tests/integration/owner_policy_test.cpp).
  kv["policy.enabled"] = "false";
  for (const auto& [k, v] : options_.settings) kv[k] = v;

  // Group by table: everything before the last dot.
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> tables;
  for (const auto& [k, v] : kv) {
    const auto dot = k.rfind('.');
    tables[k.substr(0, dot)].emplace_back(k.substr(dot + 1), v);
  }
  std::string text = "# written by ec::test::agent_process\n";
  for (const auto& [table, entries] : tables) {
    text += "\n[" + table + "]\n";
    for (const auto& [k, v] : entries) text += k + " = " + v + "\n";
  }
  write_text(config_path(), text, 0644);
}

std::string agent_process::config_text() const { return read_text(config_path()); }

void agent_process::start() {
  if (running()) throw std::runtime_error("agent_process: already running");
  ++runs_;
  write_config();  // the broker's port is known once it started
  const fs::path log = dir_ / "agent.log";
  {
    std::ofstream f(log, std::ios::app);
    f << "=== ec::test::agent_process: run " << runs_ << " ===\n";
  }
  exit_status_.reset();
  pid_ = spawn_logged({options_.binary, "run", "--config", config_path().string()}, log, log, extra_env_);
}

bool agent_process::reap(bool block) {
  if (pid_ <= 0) return true;
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
    if (r == pid_) {
      exit_status_ = decode_status(status);
      pid_ = -1;
      return true;
    }
    if (r == 0) return false;
    if (errno == EINTR) continue;
    pid_ = -1;  // not our child any more (ECHILD)
    exit_status_ = -1;
    return true;
  }
}

bool agent_process::running() { return !reap(false); }

std::optional<int> agent_process::wait_exit(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // Polling waitpid: a child's exit has no portable waitable handle short of pidfd, and this is not a test's
  // synchronisation on the system under test, only on the process table.
  while (!reap(false)) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return exit_status_;
}

int agent_process::terminate(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return exit_status_.value_or(-1);
  ::kill(pid_, SIGTERM);
  if (auto st = wait_exit(timeout)) return *st;
  ::kill(pid_, SIGKILL);
  reap(true);
  return exit_status_.value_or(-1);
}

int agent_process::kill() {
  if (pid_ <= 0) return exit_status_.value_or(-1);
  ::kill(pid_, SIGKILL);
  reap(true);
  return exit_status_.value_or(-1);
}

void agent_process::restart() {
  if (running()) terminate();
  start();
}

std::pair<int, std::string> agent_process::run_cli(const std::vector<std::string>& args) const {
  const fs::path out = dir_ / "cli.out";
  std::error_code ec;
  fs::remove(out, ec);
  write_config();
  std::vector<std::string> argv = {options_.binary};
  argv.insert(argv.end(), args.begin(), args.end());
  const int rc = wait_blocking(spawn_logged(argv, out, dir_ / "cli.err"));
  return {rc, read_text(out)};
}

std::string agent_process::log_text() const { return read_text(dir_ / "agent.log"); }

}  // namespace ec::test
