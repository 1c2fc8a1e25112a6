// edge-aggregator's configuration: broker, region, database, key, enrollment, ledger, leases and logging, read from
// a TOML file (docs/aggregator.md lists every key with its default). Relative paths are resolved against the
// config file's folder.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ec/aggregator/event_log.hpp"
#include "ec/protocol/error.hpp"

namespace ec::aggregator {

/// How unknown agent keys are admitted (protocol.md, "Enrollment").
enum class enrollment_mode : std::uint8_t { allowlist, token, open };

/// "allowlist", "token", "open".
std::string_view to_string(enrollment_mode m) noexcept;

struct aggregator_config {
  // [broker]
  std::string broker_url = "mqtt://127.0.0.1:1883";
  std::string client_id = "edge-aggregator";
  std::string username = "aggregator";
  std::string password;       // inline (the config must then be private); better: password_file
  std::string password_file;  // first line is the password; mode 0600
  std::string tls_ca_file, tls_cert_file, tls_key_file;
  bool tls_verify_hostname = true;
  bool allow_insecure_transport = false;
  std::uint32_t session_expiry_s = 300;  // the broker keeps our shared subscriptions' messages this long
  std::uint32_t reconnect_min_ms = 1000;
  std::uint32_t reconnect_max_ms = 60000;
  std::uint32_t keepalive_s = 30;
  // [region]
  std::string region = "default";
  std::uint64_t max_payload_bytes = 1024 * 1024;
  // [storage]
  std::string database = "region.db";
  std::uint32_t busy_timeout_ms = 5000;
  // [keys]
  std::string key_file = "aggregator.key";
  // [enrollment]
  enrollment_mode enrollment = enrollment_mode::token;
  std::string allowlist_file;
  // [ledger]
  std::uint64_t checkpoint_every_entries = 1000;
  std::uint64_t checkpoint_every_ms = 1000;
  // [work]
  std::uint32_t tick_ms = 250;
  std::uint32_t task_message_expiry_s = 300;
  std::uint32_t max_tasks_per_batch = 256;
  std::uint32_t initial_batch = 1;
  double target_batch_seconds = 30.0;
  std::uint64_t lease_grace_ms = 30000;
  double initial_seconds_per_task = 10.0;
  std::uint64_t max_clock_skew_ms = 300000;
  std::uint64_t held_request_ttl_ms = 120000;
  std::uint64_t batch_retention_ms = 24ULL * 3600 * 1000;
  // [trust]
  std::uint32_t trust_after = 10;
  std::uint32_t replicate_one_in = 10;  // a trusted key's unit is still replicated with probability 1/n (1: always)
  double ringer_rate = 0.01;            // fraction of TaskBatches that carry one known-answer ringer
  // [jobs]
  // PEM public keys of the operators' code keys: a custom job is accepted only with code signed by one of them, and
  // refused when the list is empty (the aggregator must not become a way to push unsigned code to agents).
  std::vector<std::string> code_keys;
  // [log]
  log_level level = log_level::info;
};

/// Parses config text; `source` names the file in messages (which give the line and the key), `base_dir` resolves
/// relative paths.
result<aggregator_config> parse_aggregator_config(std::string_view text, std::string_view source,
                                                  std::string_view base_dir);

/// Reads and parses a config file; refuses a file holding an inline password that group or others can read.
result<aggregator_config> load_aggregator_config(const std::string& path);

/// The broker password: inline, or the first line of password_file (which must be mode 0600 or stricter).
result<std::string> broker_password(const aggregator_config& config);

}  // namespace ec::aggregator
