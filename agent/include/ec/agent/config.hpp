// The agent's configuration: every key with its default, loaded from TOML, the environment and the command line,
// and validated in one place. One table of key descriptors drives the loader, the environment mapper, the
// command-line overrides, the rendered reference in docs/configuration.md and its test, so they cannot drift.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "ec/protocol/error.hpp"

namespace ec::agent {

/// TLS files of the broker connection; only valid with an mqtts:// URL.
struct broker_tls_config {
  std::string ca_file;          // PEM bundle of CAs for the broker certificate; "" = the system store
  std::string cert_file;        // client certificate (mTLS); set together with key_file
  std::string key_file;         // client private key; must not be readable by group or others
  bool verify_hostname = true;  // check the broker certificate's name against the URL host
};

/// `[broker]`: the region's MQTT v5 broker and this agent's credential.
struct broker_config {
  std::string url = "mqtt://127.0.0.1:1883";  // mqtt://host[:port] (loopback only) or mqtts://host[:port]
  std::string username;                       // "" = the agent_id (what the broker ACLs expect)
  std::string password;                       // prefer password_file; never logged
  std::string password_file;                  // one line; must not be readable by group or others
  std::uint32_t keepalive_s = 30;
  broker_tls_config tls;
  bool allow_insecure_transport = false;          // permit mqtt:// to a host that is not loopback
  std::uint64_t max_payload_bytes = 1024 * 1024;  // receiver check 1: larger payloads are dropped
  std::uint32_t reconnect_min_ms = 1000;          // first reconnect delay; doubles with jitter
  std::uint32_t reconnect_max_ms = 60000;         // reconnect delay ceiling
};

/// `[agent]`: identity, region and the pull/push pacing of the session.
struct agent_section_config {
  std::string region = "default";       // topic prefix ec/v1/<region>; [a-z0-9-]{1,32}
  std::string state_dir;                // "" = default_state_dir() (probe.hpp)
  std::string enrollment_token;         // sent in the first hello when the aggregator enrols by token; never logged
  std::uint32_t max_slots = 1;          // tasks running at once per resource group
  std::uint32_t max_tasks = 4;          // prefetch depth announced in a WorkRequest
  std::uint64_t max_batch_bytes = 0;    // largest TaskBatch asked for; 0 = broker.max_payload_bytes
  std::uint32_t result_batch_max = 32;  // publish a ResultBatch when it holds this many results...
  std::uint32_t result_batch_ms = 50;   // ...or when its oldest result has waited this long
  std::uint32_t work_request_resend_ms = 10000;  // resend an unanswered WorkRequest (same request_id)
  std::uint32_t max_task_validity_s = 86400;     // refuse tasks whose validity window is longer
  std::uint32_t drain_timeout_s = 60;            // on drain or shutdown, wait this long for running tasks
  std::string executor = "worker";               // "worker" (sandboxed processes) or "in_process"
  std::uint32_t worker_memory_mib = 4096;        // RLIMIT_DATA per worker; 0 = none
  bool worker_idle_priority = true;              // SCHED_IDLE, nice 19, idle I/O class for workers and discovery
  std::uint32_t discovery_timeout_s = 120;       // device discovery child: killed and reported after this
};

/// `[trust]`: which keys may sign what.
struct trust_config {
  std::vector<std::string> aggregator_keys;  // PEM public keys allowed to sign TaskBatch, Receipt and Control
  std::vector<std::string> code_keys;        // PEM public keys allowed to sign custom kernel code
  bool allow_custom_kernels = false;         // run custom kernels (signed by a code key) at all
};

/// `[spool]`: the durable result spool.
struct spool_config {
  std::uint64_t max_bytes = 256ULL * 1024 * 1024;  // full spool: the agent stops pulling work
  std::uint32_t ttl_s = 7 * 24 * 3600;             // older entries move to the dead-letter folder
  std::uint32_t republish_initial_s = 30;          // republish an unreceipted result after this...
  std::uint32_t republish_max_s = 300;             // ...doubling up to this
};

/// `[devices]`: which backends and devices may run tasks.
struct devices_config {
  std::string backend;                         // "" = choose by measurement; "vulkan", "opencl" or "cpu"
  std::string device_filter;                   // only devices whose id or name contains this
  std::string module_dir;                      // "" = $EC_BACKEND_PATH or the built-in path
  std::vector<std::string> disabled_backends;  // backends not to load: "vulkan", "opencl"
  std::uint32_t cpu_threads = 0;               // 0 = one per hardware thread
  std::uint32_t custom_cache_entries = 8;      // compiled custom kernels kept per device (LRU); never on disk
};

/// `[log]`: the logging facade (log.hpp).
struct log_config {
  std::string level = "info";           // error | warn | info | debug
  std::uint32_t rate_limit_per_s = 10;  // per (component, message) for anything a remote peer can trigger
};

/// `[policy]`: when the device's owner lets the agent work (docs/owner-policy.md).
struct policy_config {
  bool enabled = true;                       // evaluate the owner policy at all
  std::string sysfs_root = "/";              // where sys/ and proc/ are read (tests point it at fake files)
  std::uint32_t hysteresis_s = 300;          // a condition must stay clear this long before work resumes
  bool pause_on_battery = false;             // pause whenever on battery, whatever the charge
  std::uint32_t min_battery_percent = 30;    // on battery below this charge: pause (0 = never for charge)
  std::uint32_t max_temperature_c = 80;      // hottest thermal zone (or host-fed reading) above this: pause
  bool pause_on_metered = true;              // host-fed metered network: pause
  std::vector<std::string> run_windows;      // work only inside these ("Mon-Fri 22:00-07:00"); [] = any time
  std::vector<std::string> pause_windows;    // never work inside these
  std::uint32_t max_cpu_load_percent = 0;    // others' 1-min load average per CPU above this: pause (0 = off)
  std::uint32_t max_gpu_busy_percent = 0;    // GPU busy with others' work above this: pause (0 = off)
};

/// Everything the agent reads from its configuration. Default-constructed = the documented defaults.
struct agent_config {
  broker_config broker;
  agent_section_config agent;
  trust_config trust;
  spool_config spool;
  devices_config devices;
  log_config log;
  policy_config policy;
};

/// The TOML type a key takes; the environment and the command line use the same names as text.
enum class key_type : std::uint8_t { string, boolean, integer, string_list };

/// Where a key's value lives in agent_config; the alternative matches the key_type.
using config_field = std::variant<std::string*, bool*, std::uint32_t*, std::uint64_t*, std::vector<std::string>*>;

/// One configuration key: the single source of truth for loader, environment, overrides and docs.
struct key_descriptor {
  std::string_view name;  // dotted: "broker.url", "broker.tls.ca_file"
  key_type type;
  std::string_view default_text;  // the default as written in TOML ("30", "\"info\"", "[]")
  std::string_view doc;           // one sentence for docs/configuration.md
  std::int64_t min_value = 0;     // integers: inclusive range
  std::int64_t max_value = 0;
  std::string_view choices;  // strings with a fixed set of values: "error|warn|info|debug" ("" = free)
  bool secret = false;       // never printed: not in errors, dumps or logs
  config_field (*field)(agent_config&) = nullptr;  // the member this key sets
};

/// Every key, in documentation order.
std::span<const key_descriptor> config_keys();
/// The descriptor of a dotted key, or nullptr.
const key_descriptor* find_config_key(std::string_view dotted_key);
/// Top-level tables accepted and left alone for later features (the owner policy): `[policy]`.
std::span<const std::string_view> reserved_config_tables();
/// The environment variable of a key: "broker.tls.ca_file" -> "EDGE_AGENT_BROKER_TLS_CA_FILE".
std::string env_var_name(std::string_view dotted_key);
/// Names the config file; the one EDGE_AGENT_ variable that is not a key.
inline constexpr std::string_view config_path_env_var = "EDGE_AGENT_CONFIG";

/// Environment variables by name (only EDGE_AGENT_* ones matter).
using env_map = std::map<std::string, std::string, std::less<>>;
/// The EDGE_AGENT_* variables of this process.
env_map process_environment();

/// A command-line override: dotted key and its value as text.
using config_override = std::pair<std::string, std::string>;

/// Parses TOML text, then applies the environment, then the overrides, then validates; errors name the key.
result<agent_config> load_config(std::string_view toml_text, const env_map& env,
                                 std::span<const config_override> overrides = {});
/// load_config over a file's contents; error messages name the file.
result<agent_config> load_config_file(const std::filesystem::path& path, const env_map& env,
                                      std::span<const config_override> overrides = {});
/// Sets one key from text the way the environment does (lists comma-separated); call validate() afterwards.
result<void> apply_override(agent_config& config, std::string_view dotted_key, std::string_view value);
/// Checks every rule (ranges, choices, region, TLS and insecure transport, secret file modes); all errors at once.
result<void> validate(const agent_config& config);

/// A key's current value as TOML text; secrets print as "***" when set.
std::string format_config_value(const agent_config& config, const key_descriptor& key);
/// The whole configuration as TOML (secrets redacted), for `config show` and support bundles.
std::string dump_config(const agent_config& config);
/// The reference tables of docs/configuration.md, one Markdown table per section, rendered from config_keys().
std::string config_reference_markdown();

/// The largest TaskBatch to ask for: agent.max_batch_bytes, or broker.max_payload_bytes when it is 0.
std::uint64_t effective_max_batch_bytes(const agent_config& config);
/// The broker password: broker.password, or the first line of broker.password_file (re-checking its mode).
result<std::string> read_broker_password(const broker_config& broker);
/// True when a host is on loopback: localhost, 127.0.0.0/8, ::1 (bracketed or not).
bool is_loopback_host(std::string_view host);

}  // namespace ec::agent
