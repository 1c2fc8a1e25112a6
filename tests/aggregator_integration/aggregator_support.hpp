// Shared pieces of the aggregator integration tests: a region (a real mosquitto with ACLs, the real edge-aggregator
// process, real edge-agent processes), edgectl runs, and read-only views of the region database. Waiting is on
// conditions with deadlines; polling another process's database with a short sleep between polls is the only wait.
#pragma once

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "agent_process.hpp"
#include "ec/aggregator/sqlite_storage.hpp"
#include "ec/aggregator/task_template.hpp"
#include "ec/kernels/catalog.hpp"
#include "ec/kernels/kernel_spec.hpp"
#include "ec/protocol/tolerance.hpp"
#include "mosquitto_broker.hpp"

extern char** environ;

namespace ec::test::agg {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

inline std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_file(const fs::path& p, const std::string& text, mode_t mode) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) throw std::runtime_error("cannot write " + p.string());
  ::chmod(p.c_str(), mode);
}

/// A temporary folder removed at the end (kept when EC_KEEP_AGG_DIR is set).
struct temp_folder {
  fs::path path;
  temp_folder() {
    std::string templ = (fs::temp_directory_path() / "ec-aggit-XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path = templ;
  }
  ~temp_folder() {
    if (std::getenv("EC_KEEP_AGG_DIR") != nullptr) return;
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  temp_folder(const temp_folder&) = delete;
  temp_folder& operator=(const temp_folder&) = delete;
};

/// Starts argv[0] with stdout and stderr appended to files, `extra_env` ("NAME=value") added; returns the pid.
inline pid_t spawn(const std::vector<std::string>& argv, const fs::path& out, const fs::path& err,
                   const std::vector<std::string>& extra_env = {}) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> envp;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) envp.push_back(*e);
  for (const auto& e : extra_env) envp.insert(envp.begin(), const_cast<char*>(e.c_str()));  // first wins in getenv
  envp.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, argv.at(0).c_str(), &fa, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("posix_spawn " + argv.at(0) + ": " + std::strerror(rc));
  return pid;
}

/// Waits for a child; returns its exit code or 128 + signal.
inline int wait_child(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/// One run of a command to completion: exit status, stdout, stderr.
struct command_output {
  int rc = -1;
  std::string out, err;
};

inline command_output run_program(const std::vector<std::string>& argv, const fs::path& scratch) {
  static int n = 0;
  const auto out = scratch / ("cmd-" + std::to_string(++n) + ".out");
  const auto err = scratch / ("cmd-" + std::to_string(n) + ".err");
  command_output r;
  r.rc = wait_child(spawn(argv, out, err));
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

/// Polls `pred` every `every` until it holds or the deadline passes (another process's state is only visible by
/// looking: the database file or a status file).
inline bool poll_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                       std::chrono::milliseconds every = 200ms) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(every);
  }
}

/// The edge-aggregator process with its config, key and database in one folder.
class aggregator_process {
 public:
  aggregator_process(const fs::path& dir, std::map<std::string, std::string> settings) : dir_(dir) {
    fs::create_directories(dir_);
    const auto r = run_program({EC_AGGREGATOR_BINARY, "keygen", "--key", key_path().string()}, dir_);
    if (r.rc != 0) throw std::runtime_error("edge-aggregator keygen failed: " + r.err);
    public_key_pem_ = read_file(key_path().string() + ".pub");
    settings_ = std::move(settings);
  }
  ~aggregator_process() {
    if (pid_ > 0) kill();
  }
  aggregator_process(const aggregator_process&) = delete;
  aggregator_process& operator=(const aggregator_process&) = delete;

  [[nodiscard]] fs::path key_path() const { return dir_ / "aggregator.key"; }
  [[nodiscard]] fs::path config_path() const { return dir_ / "aggregator.toml"; }
  [[nodiscard]] fs::path database() const { return dir_ / "region.db"; }
  [[nodiscard]] const std::string& public_key_pem() const { return public_key_pem_; }
  [[nodiscard]] std::string log_text() const { return read_file(dir_ / "aggregator.log"); }
  /// The running process's id; -1 when not started or reaped.
  [[nodiscard]] pid_t pid() const { return pid_; }
  void set(const std::string& key, const std::string& value) { settings_[key] = value; }
  /// Environment ("NAME=value") for the next start(), e.g. {"EC_FAILPOINTS=..."}; {} for none.
  void set_env(std::vector<std::string> env) { env_ = std::move(env); }

  /// Writes the config (dotted keys grouped into tables) and starts `edge-aggregator run`.
  void start() {
    std::map<std::string, std::map<std::string, std::string>> tables;
    for (const auto& [k, v] : settings_) {
      const auto dot = k.rfind('.');
      tables[k.substr(0, dot)][k.substr(dot + 1)] = v;
    }
    std::string text = "# written by the aggregator integration tests\n";
    for (const auto& [t, entries] : tables) {
      text += "\n[" + t + "]\n";
      for (const auto& [k, v] : entries) text += k + " = " + v + "\n";
    }
    write_file(config_path(), text, 0600);
    const auto log = dir_ / "aggregator.log";
    std::ofstream(log, std::ios::app) << "--- start\n";
    pid_ = spawn({EC_AGGREGATOR_BINARY, "run", "--config", config_path().string()}, log, log, env_);
  }
  /// SIGTERM and wait; returns the exit status.
  int terminate() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    const int rc = wait_child(pid_);
    pid_ = -1;
    return rc;
  }
  /// SIGKILL and reap.
  int kill() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGKILL);
    const int rc = wait_child(pid_);
    pid_ = -1;
    return rc;
  }
  [[nodiscard]] bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }

 private:
  fs::path dir_;
  std::string public_key_pem_;
  std::map<std::string, std::string> settings_;
  std::vector<std::string> env_;  // set_env(): added at each start()
  pid_t pid_ = -1;
};

inline std::string toml_string(const std::string& s) { return "\"" + s + "\""; }

/// A region: broker (ACLs, per-agent passwords), the real aggregator in token enrollment mode, agents (created, not
/// started). Agents run through a wrapper that makes their config private, since it carries an enrollment token.
struct region {
  /// `env` gives some agents environment variables ("NAME=value"), e.g. the test-only lying mode; the broker
  /// starts after every agent's credential is written (mosquitto reads its password file once).
  explicit region(std::size_t agent_count, const std::map<std::size_t, std::vector<std::string>>& env = {})
      : aggregator(folder.path / "aggregator", default_settings()) {
    broker.add_user("aggregator", "pw-aggregator");
    write_file(folder.path / "agent-wrapper.sh",
               "#!/bin/sh\n# chmod 600 the config (it holds agent.enrollment_token), then run the agent\n"
               "prev=\"\"\nfor a in \"$@\"; do [ \"$prev\" = \"--config\" ] && chmod 600 \"$a\"; prev=\"$a\"; done\n"
               "exec " EC_AGENT_BINARY " \"$@\"\n",
               0755);
    for (std::size_t i = 0; i < agent_count; ++i) add_agent(env.count(i) != 0 ? env.at(i) : std::vector<std::string>{});
    broker.start();
    aggregator.set("broker.url", toml_string(broker.url()));
  }

  std::map<std::string, std::string> default_settings() const {
    return {
        {"broker.url", toml_string("mqtt://127.0.0.1:1")},
        {"broker.username", toml_string("aggregator")},
        {"broker.password", toml_string("pw-aggregator")},
        {"broker.client_id", toml_string("aggregator-1")},
        {"broker.reconnect_min_ms", "100"},
        {"broker.reconnect_max_ms", "1000"},
        {"region.name", toml_string("test")},
        {"storage.database", toml_string("region.db")},
        {"keys.key_file", toml_string("aggregator.key")},
        {"enrollment.mode", toml_string("token")},
        {"ledger.checkpoint_every_entries", "5"},
        {"ledger.checkpoint_every_ms", "500"},
        {"work.tick_ms", "100"},
        {"work.lease_grace_ms", "1000"},
        {"work.initial_seconds_per_task", "1"},
        {"work.target_batch_seconds", "2"},
        {"log.level", toml_string("debug")},
        // Every unit replicated and no ringers unless a test asks: tests count principals per ledger entry.
        {"trust.replicate_one_in", "1"},
        {"trust.ringer_rate", "0"},
    };
  }

  /// Adds an agent (before the broker starts: see the constructor); `env` ("NAME=value" lines) is exported by its own
  /// wrapper (e.g. EC_TEST_LIE_RATE).
  agent_process& add_agent(const std::vector<std::string>& env = {}) {
    agent_process_options o;
    o.binary = (folder.path / "agent-wrapper.sh").string();
    if (!env.empty()) {
      const auto wrapper = folder.path / ("agent-wrapper-" + std::to_string(agents.size()) + ".sh");
      std::string text = "#!/bin/sh\n";
      for (const auto& e : env) text += "export " + e + "\n";
      write_file(wrapper, text + "exec " + o.binary + " \"$@\"\n", 0755);
      o.binary = wrapper.string();
    }
    o.region = "test";
    o.aggregator_key_pems = {aggregator.public_key_pem()};
    agents.push_back(std::make_unique<agent_process>(broker, std::move(o)));
    return *agents.back();
  }

  agent_process& agent(std::size_t i) { return *agents.at(i); }

  /// Runs edgectl on the region database.
  command_output edgectl(std::vector<std::string> args) {
    std::vector<std::string> argv = {EC_EDGECTL_BINARY, "--db", aggregator.database().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_program(argv, folder.path);
  }

  /// Issues a token for a principal and gives it to agent i.
  void enroll(std::size_t i, const std::string& principal, std::uint32_t keys = 1) {
    const auto r = edgectl({"enroll", "--principal", principal, "--keys", std::to_string(keys)});
    REQUIRE_MESSAGE(r.rc == 0, r.err);
    auto token = r.out;
    while (!token.empty() && (token.back() == '\n' || token.back() == ' ')) token.pop_back();
    agent(i).set("agent.enrollment_token", toml_string(token));
  }

  /// Submits a job file written from `toml`; returns the job id.
  std::string submit(const std::string& toml) {
    const auto path = folder.path / ("job-" + std::to_string(++jobs) + ".toml");
    write_file(path, toml, 0644);
    const auto r = edgectl({"submit", path.string()});
    REQUIRE_MESSAGE(r.rc == 0, r.err);
    auto id = r.out;
    while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
    return id;
  }

  /// A read-only connection to the region database, opened per call (the file belongs to the aggregator).
  std::unique_ptr<aggregator::sqlite_storage> db() {
    aggregator::sqlite_options o;
    o.path = aggregator.database();
    o.create = false;
    auto s = aggregator::sqlite_storage::open(o);
    REQUIRE_MESSAGE(s.ok(), (s.ok() ? std::string() : s.err().what()));
    return std::move(s).value();
  }

  aggregator::work_unit_counts counts(const std::string& job_id) {
    auto c = db()->count_work_units(job_id);
    REQUIRE(c.ok());
    return *c;
  }

  /// Waits until every work unit of the job is validated.
  bool wait_validated(const std::string& job_id, std::chrono::milliseconds timeout) {
    return poll_until(
        [&] {
          const auto c = counts(job_id);
          return c.pending + c.running + c.failed == 0 && c.validated > 0;
        },
        timeout);
  }

  std::string diagnostics() {
    std::string s;
    for (std::size_t i = 0; i < agents.size(); ++i) {
      auto log = agents[i]->log_text();
      if (log.size() > 6000) log = "...\n" + log.substr(log.size() - 6000);
      s += "--- agent " + std::to_string(i) + " (" + agents[i]->agent_id() + ") log:\n" + log;
    }
    auto alog = aggregator.log_text();
    if (alog.size() > 12000) alog = "...\n" + alog.substr(alog.size() - 12000);
    s += "--- aggregator log:\n" + alog;
    auto blog = broker.log_text();
    if (blog.size() > 3000) blog = "...\n" + blog.substr(blog.size() - 3000);
    return s + "--- broker log:\n" + blog;
  }

  temp_folder folder;
  mosquitto_broker broker;
  aggregator_process aggregator;
  std::vector<std::unique_ptr<agent_process>> agents;
  int jobs = 0;
};

/// A small Mandelbrot job: width x height pixels in tiles, `max_iter` iterations, over a view inside the set when
/// `heavy` (every pixel runs max_iter: slow tiles).
inline std::string mandelbrot_job(std::uint32_t width, std::uint32_t height, std::uint32_t tile, std::uint32_t max_iter,
                                  bool heavy, std::uint32_t quorum = 2, std::uint32_t max_runtime_ms = 20000) {
  std::string s = "name = \"mandel-test\"\nkernel = \"mandelbrot\"\nquorum = " + std::to_string(quorum) +
                  "\nmax_runtime_ms = " + std::to_string(max_runtime_ms) +
                  "\n\n[image]\nwidth = " + std::to_string(width) + "\nheight = " + std::to_string(height) +
                  "\nmax_iter = " + std::to_string(max_iter) + "\ntile_width = " + std::to_string(tile) +
                  "\ntile_height = " + std::to_string(tile) + "\n";
  if (heavy) s += "x_min = -0.5\nx_max = -0.1\ny_min = -0.2\ny_max = 0.2\n";
  return s;
}

/// Checks every validated unit's canonical outputs against the C++ reference run on the unit's own inputs.
inline void check_against_reference(aggregator::sqlite_storage& db, const std::string& job_id) {
  auto units = db.list_work_units(job_id);
  REQUIRE(units.ok());
  REQUIRE(!units->empty());
  for (const auto& u : *units) {
    const std::string wu = u.wu_id;
    INFO("work unit " << wu);
    REQUIRE(u.state == aggregator::work_unit_state::validated);
    REQUIRE(u.canonical_digest.has_value());
    auto templ = aggregator::decode_task_template(u.payload);
    REQUIRE(templ.ok());
    const auto* spec = kernels::find_kernel(templ->kernel);
    REQUIRE(spec != nullptr);
    std::vector<protocol::tensor_ref> refs;
    for (const auto& t : templ->inputs) refs.push_back(t.ref());
    auto call = spec->bind(templ->params, refs);
    REQUIRE(call.ok());
    const auto expected = kernels::run_reference(*call);
    auto stored = db.results_for_work_unit(wu);
    REQUIRE(stored.ok());
    bool found = false;
    for (const auto& s : *stored) {
      if (s.result.status != 0 || s.result.output_digest != *u.canonical_digest) continue;
      auto r = aggregator::decode_stored_result(s.result.blob);
      REQUIRE(r.ok());
      REQUIRE(r->outputs.size() == expected.size());
      for (std::size_t i = 0; i < expected.size(); ++i) {
        if (spec->validation == protocol::validation_mode::exact) {
          CHECK(r->outputs[i].data == expected[i].data);
        } else {
          CHECK_FALSE(protocol::compare_tensors(r->outputs[i].ref(), expected[i].ref(), spec->rtol, spec->atol));
        }
      }
      found = true;
      break;
    }
    CHECK(found);
  }
}

}  // namespace ec::test::agg
