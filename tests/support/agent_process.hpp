// A real `edge-agent run` process for integration tests: its own temp folder (state dir, config, password file,
// log), an identity made by `edge-agent keygen`, a broker user registered on the test broker, and start, SIGTERM,
// SIGKILL and restart with the exit status kept.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mosquitto_broker.hpp"

namespace ec::test {

/// What the agent is configured with. `settings` maps dotted keys to TOML values (already quoted:
/// {"spool.republish_initial_s", "1"}, {"log.level", "\"debug\""}); they override the helper's test defaults.
struct agent_process_options {
  std::string binary;  // the edge-agent executable; "" = $EC_AGENT_BINARY from the environment
  std::string region = "test";
  std::vector<std::string> aggregator_key_pems;  // written to files listed in trust.aggregator_keys
  std::map<std::string, std::string> settings;   // dotted key -> TOML value text
};

/// One agent process (its folder outlives restarts; removed by the destructor unless EC_KEEP_AGENT_DIR is set).
class agent_process {
 public:
  /// Makes the folder, runs `edge-agent keygen`, writes the password file, and adds the agent's
  /// user to the broker (restarting a running broker so that it reads the password file again). Throws on failure.
  agent_process(mosquitto_broker& broker, agent_process_options options);
  /// SIGKILLs a running agent and removes the folder.
  ~agent_process();
  agent_process(const agent_process&) = delete;
  agent_process& operator=(const agent_process&) = delete;

  /// Starts `edge-agent run --config FILE`, stderr and stdout appended to the log. Throws if already running.
  void start();
  /// SIGTERM, then waits up to `timeout` for the exit (SIGKILL after it); returns the exit status.
  int terminate(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  /// SIGKILL and reap; returns the exit status (128 + 9).
  int kill();
  /// terminate() if running, then start().
  void restart();
  /// Waits up to `timeout` for the process to exit on its own; returns its status or nothing.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

  /// Sets a config key (TOML value text) for the next start(); the config is written at each start().
  void set(const std::string& dotted_key, const std::string& toml_value);
  /// Sets an environment variable for the next start() (e.g. EC_FAILPOINTS); an empty value unsets it.
  void set_env(const std::string& name, const std::string& value);
  /// True while the process runs (reaps it if it exited).
  [[nodiscard]] bool running();
  /// The exit status of the last run: the code, or 128 + signal; nothing while running or before the first run.
  [[nodiscard]] std::optional<int> exit_status() const { return exit_status_; }
  [[nodiscard]] pid_t pid() const { return pid_; }

  [[nodiscard]] const std::string& agent_id() const { return agent_id_; }
  [[nodiscard]] const std::string& password() const { return password_; }
  [[nodiscard]] const std::string& public_key_pem() const { return public_key_pem_; }
  [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }
  [[nodiscard]] std::filesystem::path state_dir() const { return dir_ / "state"; }
  [[nodiscard]] std::filesystem::path config_path() const { return dir_ / "agent.toml"; }
  /// Runs `edge-agent ARGS...` to completion (e.g. {"status", "--config", config_path()}); returns its exit
  /// status and stdout.
  [[nodiscard]] std::pair<int, std::string> run_cli(const std::vector<std::string>& args) const;
  /// Everything the agent wrote to stderr and stdout, all runs (each run starts with a marker line).
  [[nodiscard]] std::string log_text() const;
  /// The config text the agent runs with.
  [[nodiscard]] std::string config_text() const;

 private:
  void write_config() const;
  // Reaps without blocking; true when the process is gone.
  bool reap(bool block);

  mosquitto_broker& broker_;
  agent_process_options options_;
  std::filesystem::path dir_;
  std::string agent_id_;
  std::string password_;
  std::string public_key_pem_;
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
  int runs_ = 0;
  std::map<std::string, std::string> extra_env_;  // set_env(): applied at each start()
};

}  // namespace ec::test
