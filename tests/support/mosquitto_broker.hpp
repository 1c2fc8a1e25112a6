// A real mosquitto broker for tests: a child process on a random loopback port, with passwords and the
// protocol's ACLs (protocol.md, "Topics (MQTT v5) and broker ACLs"), in a temporary folder removed afterwards.
//
// Mosquitto 2.0.11 started as root drops to the `mosquitto` user before it reads the password and ACL files,
// so files in a 0700 temp folder become unreadable ("Unable to open pwfile"). `user root` in the config keeps
// root (it only logs "should not be run as root"); the fixture writes it when the test runs with euid 0.
// Without root the `user` key is ignored, so the same config works for an ordinary user.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ec::test {

/// TLS on the broker's listener (files made by make_test_pki()).
struct broker_tls {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  bool require_certificate = true;       // clients must present a certificate signed by ca_file
  bool use_identity_as_username = true;  // the certificate's CN becomes the username (ACL %u)
};

/// Configuration of a test broker.
struct broker_options {
  std::string region = "test";                            // ACL prefix ec/v1/<region>
  std::vector<std::string> aggregators = {"aggregator"};  // users given the aggregator ACL
  std::size_t max_packet_size = 2 * 1024 * 1024;          // the broker refuses larger packets (receiver check 1)
  std::uint32_t max_inflight_messages = 20;               // sent as Receive Maximum in the CONNACK
  std::uint32_t max_queued_messages = 1000;               // per client, while offline or beyond the window
  std::optional<broker_tls> tls;
};

/// The ACL file for a region: agents (%u = agent_id) and the named aggregators.
std::string acl_text(std::string_view region, std::span<const std::string> aggregators);

/// Runs a program (PATH lookup) with stdout and stderr appended to `output`; returns its exit status (-1 on a
/// signal or spawn failure).
int run_command(const std::vector<std::string>& argv, const std::filesystem::path& output);

/// A throwaway PKI made with the openssl CLI: a CA, a server certificate for localhost/127.0.0.1, and one
/// client certificate per name (CN = the name).
struct test_pki {
  std::filesystem::path ca_cert;
  std::filesystem::path server_cert;
  std::filesystem::path server_key;
  /// Client certificate and key of `name` (made by make_test_pki).
  [[nodiscard]] std::pair<std::filesystem::path, std::filesystem::path> client(std::string_view name) const;
  std::filesystem::path dir;
};

/// Creates the PKI under `dir` (EC P-256 keys); throws std::runtime_error with openssl's output on failure.
test_pki make_test_pki(const std::filesystem::path& dir, const std::vector<std::string>& client_names);
/// Adds a client certificate (CN = name) signed by the PKI's CA; see test_pki::client().
void issue_client_certificate(const test_pki& pki, const std::string& name);

/// One mosquitto process for one test. Throws std::runtime_error (with the broker's log) when it cannot start.
class mosquitto_broker {
 public:
  /// Creates the temp folder and the ACL; the broker starts with start().
  explicit mosquitto_broker(broker_options options = {});
  /// Stops the broker (SIGTERM) and removes the temp folder (kept when EC_KEEP_BROKER_DIR is set).
  ~mosquitto_broker();
  mosquitto_broker(const mosquitto_broker&) = delete;
  mosquitto_broker& operator=(const mosquitto_broker&) = delete;

  /// Adds a user to the password file (mosquitto_passwd -b); call before start(), or restart() afterwards.
  void add_user(const std::string& name, const std::string& password);
  /// Picks a free port and starts mosquitto; returns once it accepts TCP connections.
  void start();
  /// SIGTERM and reap; clients see a clean socket close (no will for them: the broker is gone).
  void stop();
  /// SIGKILL and reap, for resilience tests.
  void kill();
  /// Stops (if running) and starts again on the same port.
  void restart();

  /// "mqtt://127.0.0.1:<port>", or "mqtts://localhost:<port>" with TLS.
  [[nodiscard]] std::string url() const;
  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] bool running() const { return pid_ > 0; }
  /// Everything the broker logged so far (all runs).
  [[nodiscard]] std::string log_text() const;
  /// The temp folder (config, passwords, ACL, log).
  [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }

 private:
  void write_config() const;
  // One spawn on port_; returns false when the port was taken (bind race), throws on any other failure.
  bool spawn_and_wait();
  void signal_and_reap(int sig);

  broker_options options_;
  std::filesystem::path dir_;
  std::vector<std::string> users_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace ec::test
