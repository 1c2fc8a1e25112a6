// The key table (config-as-data) and everything derived from it: environment names, text values, overrides, the
// TOML dump and the Markdown reference.
#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <limits>
#include <string>

#include "config_detail.hpp"
#include "ec/agent/config.hpp"

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX, not declared by <unistd.h> in C++

namespace ec::agent {

namespace {

// One accessor per key: the table below is the only place a key is bound to its member.
#define EC_FIELD(member) [](agent_config& c) -> config_field { return &c.member; }

constexpr std::int64_t kib = 1024;
constexpr std::int64_t mib = 1024 * kib;
constexpr std::int64_t mqtt_max_packet = 268'435'455;  // MQTT v5 variable byte integer ceiling

using enum key_type;

// Order: documentation order; sections in the order of agent_config. Designated initializers leave the members a
// key does not use at their defaults, which GCC 12 warns about even though they have default member initializers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
const std::array keys{
    // [broker]
    key_descriptor{.name = "broker.url",
                   .type = string,
                   .default_text = R"("mqtt://127.0.0.1:1883")",
                   .doc = "The region's MQTT v5 broker: `mqtt://host[:port]` (plain TCP, loopback only unless "
                          "`allow_insecure_transport`) or `mqtts://host[:port]` (TLS). No credentials in the URL.",
                   .field = EC_FIELD(broker.url)},
    key_descriptor{.name = "broker.username",
                   .type = string,
                   .default_text = R"("")",
                   .doc = "MQTT user name; empty means the agent_id, which is what the broker ACLs (`%u`) expect.",
                   .field = EC_FIELD(broker.username)},
    key_descriptor{.name = "broker.password",
                   .type = string,
                   .default_text = R"("")",
                   .doc = "MQTT password. Prefer `password_file`; never logged or printed.",
                   .secret = true,
                   .field = EC_FIELD(broker.password)},
    key_descriptor{.name = "broker.password_file",
                   .type = string,
                   .default_text = R"("")",
                   .doc = "File whose first line is the MQTT password; must not be readable by group or others "
                          "(chmod 600). Exclusive with `password`.",
                   .field = EC_FIELD(broker.password_file)},
    key_descriptor{.name = "broker.keepalive_s",
                   .type = integer,
                   .default_text = "30",
                   .doc = "MQTT keepalive in seconds; the broker publishes the Last Will after 1.5 times this.",
                   .min_value = 1,
                   .max_value = 65535,
                   .field = EC_FIELD(broker.keepalive_s)},
    key_descriptor{.name = "broker.allow_insecure_transport",
                   .type = boolean,
                   .default_text = "false",
                   .doc = "Allow `mqtt://` (no TLS) to a host that is not loopback. Credentials, tasks and results "
                          "then cross the network in clear text.",
                   .field = EC_FIELD(broker.allow_insecure_transport)},
    key_descriptor{.name = "broker.max_payload_bytes",
                   .type = integer,
                   .default_text = "1048576",
                   .doc = "Largest MQTT payload accepted (1 MiB); larger messages are dropped unread. Keep the "
                          "broker's `max_packet_size` at or below it.",
                   .min_value = 4 * kib,
                   .max_value = mqtt_max_packet,
                   .field = EC_FIELD(broker.max_payload_bytes)},
    key_descriptor{.name = "broker.reconnect_min_ms",
                   .type = integer,
                   .default_text = "1000",
                   .doc = "First reconnect delay; it doubles, with jitter, after each failed attempt.",
                   .min_value = 10,
                   .max_value = 3'600'000,
                   .field = EC_FIELD(broker.reconnect_min_ms)},
    key_descriptor{.name = "broker.reconnect_max_ms",
                   .type = integer,
                   .default_text = "60000",
                   .doc = "Ceiling of the reconnect delay; at least `reconnect_min_ms`.",
                   .min_value = 10,
                   .max_value = 3'600'000,
                   .field = EC_FIELD(broker.reconnect_max_ms)},
    // [broker.tls]
    key_descriptor{.name = "broker.tls.ca_file",
                   .type = string,
                   .default_text = R"("")",
                   .doc = "PEM bundle of the CAs that sign the broker's certificate; empty means the system store. "
                          "`mqtts://` only.",
                   .field = EC_FIELD(broker.tls.ca_file)},
    key_descriptor{.name = "broker.tls.cert_file",
                   .type = string,
                   .default_text = R"("")",
                   .doc = "Client certificate (PEM) for mutual TLS; set together with `key_file`.",
                   .field = EC_FIELD(broker.tls.cert_file)},
    key_descriptor{.name = "broker.tls.key_file",
                   .type = string,
                   .default_text = R"("")",
                   .doc = "Client private key (PEM) for mutual TLS; must not be readable by group or others.",
                   .field = EC_FIELD(broker.tls.key_file)},
    key_descriptor{.name = "broker.tls.verify_hostname",
                   .type = boolean,
                   .default_text = "true",
                   .doc = "Check that the broker's certificate names the URL's host. Turn off only for a test "
                          "broker addressed by IP.",
                   .field = EC_FIELD(broker.tls.verify_hostname)},
    // [agent]
    key_descriptor{.name = "agent.region",
                   .type = string,
                   .default_text = R"("default")",
                   .doc = "Region of the broker; topics are `ec/v1/<region>/...` and signatures bind it. "
                          "Must match `[a-z0-9-]{1,32}`.",
                   .field = EC_FIELD(agent.region)},
    key_descriptor{.name = "agent.state_dir",
                   .type = string,
                   .default_text = R"("")",
                   .doc = "Identity key, journal, spool and caches. Empty means `$EC_STATE_DIR`, "
                          "`/var/lib/edge-agent` for root, else `~/.local/state/edge-agent`.",
                   .field = EC_FIELD(agent.state_dir)},
    key_descriptor{.name = "agent.enrollment_token",
                   .type = string,
                   .default_text = R"("")",
                   .doc = "Operator-issued token sent in the first hello when the aggregator enrols by token; "
                          "never logged or printed.",
                   .secret = true,
                   .field = EC_FIELD(agent.enrollment_token)},
    key_descriptor{.name = "agent.max_slots",
                   .type = integer,
                   .default_text = "1",
                   .doc = "Tasks running at once per resource group (devices sharing one chip share its slots).",
                   .min_value = 1,
                   .max_value = 256,
                   .field = EC_FIELD(agent.max_slots)},
    key_descriptor{.name = "agent.max_tasks",
                   .type = integer,
                   .default_text = "4",
                   .doc = "Prefetch depth: tasks asked for in one WorkRequest and queued beyond the running ones.",
                   .min_value = 1,
                   .max_value = 256,
                   .field = EC_FIELD(agent.max_tasks)},
    key_descriptor{.name = "agent.max_batch_bytes",
                   .type = integer,
                   .default_text = "0",
                   .doc = "Largest TaskBatch asked for, in bytes; 0 means `broker.max_payload_bytes`. At most "
                          "`broker.max_payload_bytes`.",
                   .min_value = 0,
                   .max_value = mqtt_max_packet,
                   .field = EC_FIELD(agent.max_batch_bytes)},
    key_descriptor{.name = "agent.result_batch_max",
                   .type = integer,
                   .default_text = "32",
                   .doc = "Publish a ResultBatch as soon as it holds this many results.",
                   .min_value = 1,
                   .max_value = 256,
                   .field = EC_FIELD(agent.result_batch_max)},
    key_descriptor{.name = "agent.result_batch_ms",
                   .type = integer,
                   .default_text = "50",
                   .doc = "...or once its oldest result has waited this many milliseconds.",
                   .min_value = 0,
                   .max_value = 60'000,
                   .field = EC_FIELD(agent.result_batch_ms)},
    key_descriptor{.name = "agent.work_request_resend_ms",
                   .type = integer,
                   .default_text = "10000",
                   .doc = "Resend an unanswered WorkRequest (same request_id) after this long, backing off with "
                          "jitter.",
                   .min_value = 100,
                   .max_value = 3'600'000,
                   .field = EC_FIELD(agent.work_request_resend_ms)},
    key_descriptor{.name = "agent.max_task_validity_s",
                   .type = integer,
                   .default_text = "86400",
                   .doc = "Reject tasks whose validity window (expires_at - issued_at) is longer than this; it "
                          "bounds how long the replay guard must remember a task.",
                   .min_value = 60,
                   .max_value = 604'800,
                   .field = EC_FIELD(agent.max_task_validity_s)},
    key_descriptor{.name = "agent.drain_timeout_s",
                   .type = integer,
                   .default_text = "60",
                   .doc = "On drain or shutdown, wait this long for running tasks before cancelling them.",
                   .min_value = 0,
                   .max_value = 86'400,
                   .field = EC_FIELD(agent.drain_timeout_s)},
    key_descriptor{.name = "agent.executor",
                   .type = string,
                   .default_text = R"("worker")",
                   .doc = "Where kernels run: `worker` runs them in sandboxed worker processes, one per resource "
                          "group slot, killed at the deadline and restarted after a crash (docs/isolation.md); "
                          "`in_process` runs them on the agent's own threads (phone apps, tests).",
                   .choices = "worker|in_process",
                   .field = EC_FIELD(agent.executor)},
    key_descriptor{.name = "agent.worker_memory_mib",
                   .type = integer,
                   .default_text = "4096",
                   .doc = "Data-segment limit (`RLIMIT_DATA`) of each worker, in MiB; 0 means none. Tensors in "
                          "shared memory do not count; ignored in sanitizer builds.",
                   .min_value = 0,
                   .max_value = 1 << 24,
                   .field = EC_FIELD(agent.worker_memory_mib)},
    key_descriptor{.name = "agent.worker_idle_priority",
                   .type = boolean,
                   .default_text = "true",
                   .doc = "Run workers and device discovery at idle priority (`SCHED_IDLE`, nice 19, idle I/O "
                          "class), so the owner's work always comes first. `false` only on a machine dedicated to "
                          "the agent, or in tests that share a loaded machine, where idle work can starve.",
                   .field = EC_FIELD(agent.worker_idle_priority)},
    key_descriptor{.name = "agent.discovery_timeout_s",
                   .type = integer,
                   .default_text = "120",
                   .doc = "Device discovery (with self-tests and calibration) runs in a child process; one that "
                          "takes longer is killed and reported, and the agent goes on with the CPU backend.",
                   .min_value = 1,
                   .max_value = 3600,
                   .field = EC_FIELD(agent.discovery_timeout_s)},
    // [trust]
    key_descriptor{.name = "trust.aggregator_keys",
                   .type = string_list,
                   .default_text = "[]",
                   .doc = "PEM public keys of the region's aggregators; only they may sign TaskBatch, Receipt and "
                          "Control. `edge-agent run` needs at least one.",
                   .field = EC_FIELD(trust.aggregator_keys)},
    key_descriptor{.name = "trust.code_keys",
                   .type = string_list,
                   .default_text = "[]",
                   .doc = "PEM public keys (kept offline by the operator) that must sign custom kernel code.",
                   .field = EC_FIELD(trust.code_keys)},
    key_descriptor{.name = "trust.allow_custom_kernels",
                   .type = boolean,
                   .default_text = "false",
                   .doc = "Run custom kernels (SPIR-V or OpenCL C signed by a code key); needs `code_keys`.",
                   .field = EC_FIELD(trust.allow_custom_kernels)},
    // [spool]
    key_descriptor{.name = "spool.max_bytes",
                   .type = integer,
                   .default_text = "268435456",
                   .doc = "Bytes of signed results kept until receipted (256 MiB); when full the agent stops "
                          "pulling work. A result is never dropped.",
                   .min_value = mib,
                   .max_value = std::int64_t{1} << 50,
                   .field = EC_FIELD(spool.max_bytes)},
    key_descriptor{.name = "spool.ttl_s",
                   .type = integer,
                   .default_text = "604800",
                   .doc = "Entries older than this (7 days) move to the dead-letter folder and are reported.",
                   .min_value = 60,
                   .max_value = 31'536'000,
                   .field = EC_FIELD(spool.ttl_s)},
    key_descriptor{.name = "spool.republish_initial_s",
                   .type = integer,
                   .default_text = "30",
                   .doc = "Republish the same bytes of a result not receipted after this long...",
                   .min_value = 1,
                   .max_value = 86'400,
                   .field = EC_FIELD(spool.republish_initial_s)},
    key_descriptor{.name = "spool.republish_max_s",
                   .type = integer,
                   .default_text = "300",
                   .doc = "...doubling up to this; at least `republish_initial_s`.",
                   .min_value = 1,
                   .max_value = 86'400,
                   .field = EC_FIELD(spool.republish_max_s)},
    // [devices]
    key_descriptor{.name = "devices.backend",
                   .type = string,
                   .default_text = R"("")",
                   .doc = "Run tasks only on this backend; empty chooses per kernel by measured throughput.",
                   .choices = "|vulkan|opencl|cpu",
                   .field = EC_FIELD(devices.backend)},
    key_descriptor{.name = "devices.device_filter",
                   .type = string,
                   .default_text = R"("")",
                   .doc = "Use only devices whose id or name contains this text.",
                   .field = EC_FIELD(devices.device_filter)},
    key_descriptor{.name = "devices.module_dir",
                   .type = string,
                   .default_text = R"("")",
                   .doc = "Folder of the backend modules; empty means `$EC_BACKEND_PATH` or the built-in path.",
                   .field = EC_FIELD(devices.module_dir)},
    key_descriptor{.name = "devices.disabled_backends",
                   .type = string_list,
                   .default_text = "[]",
                   .doc = "GPU backends not to load (`vulkan`, `opencl`); the CPU backend is always there.",
                   .choices = "vulkan|opencl",
                   .field = EC_FIELD(devices.disabled_backends)},
    key_descriptor{.name = "devices.cpu_threads",
                   .type = integer,
                   .default_text = "0",
                   .doc = "Threads of the CPU backend; 0 means one per hardware thread.",
                   .min_value = 0,
                   .max_value = 1024,
                   .field = EC_FIELD(devices.cpu_threads)},
    key_descriptor{.name = "devices.custom_cache_entries",
                   .type = integer,
                   .default_text = "8",
                   .doc = "Compiled custom kernels kept per device (least recently used go first); "
                          "they never reach the disk caches.",
                   .min_value = 1,
                   .max_value = 256,
                   .field = EC_FIELD(devices.custom_cache_entries)},
    // [log]
    key_descriptor{.name = "log.level",
                   .type = string,
                   .default_text = R"("info")",
                   .doc = "Least severe level written.",
                   .choices = "error|warn|info|debug",
                   .field = EC_FIELD(log.level)},
    key_descriptor{.name = "log.rate_limit_per_s",
                   .type = integer,
                   .default_text = "10",
                   .doc = "Lines per second per (component, message) for events a remote peer can trigger; the "
                          "rest are counted and summarised.",
                   .min_value = 1,
                   .max_value = 100'000,
                   .field = EC_FIELD(log.rate_limit_per_s)},
    // [policy]: the owner policy (docs/owner-policy.md)
    key_descriptor{.name = "policy.enabled",
                   .type = boolean,
                   .default_text = "true",
                   .doc = "Pause work when the owner's conditions below say so (power, heat, network, time, "
                          "other work); false ignores them all.",
                   .field = EC_FIELD(policy.enabled)},
    key_descriptor{.name = "policy.sysfs_root",
                   .type = string,
                   .default_text = R"("/")",
                   .doc = "Absolute folder under which `sys/class/power_supply`, `sys/class/thermal`, "
                          "`proc/loadavg` and the power sensors are read; tests point it at fake files.",
                   .field = EC_FIELD(policy.sysfs_root)},
    key_descriptor{.name = "policy.hysteresis_s",
                   .type = integer,
                   .default_text = "300",
                   .doc = "Seconds a pausing condition must stay clear before work resumes; pausing is immediate.",
                   .min_value = 0,
                   .max_value = 86400,
                   .field = EC_FIELD(policy.hysteresis_s)},
    key_descriptor{.name = "policy.pause_on_battery",
                   .type = boolean,
                   .default_text = "false",
                   .doc = "Pause whenever the device runs on battery, whatever its charge.",
                   .field = EC_FIELD(policy.pause_on_battery)},
    key_descriptor{.name = "policy.min_battery_percent",
                   .type = integer,
                   .default_text = "30",
                   .doc = "On battery below this charge (percent), pause; on mains the charge does not matter. 0 "
                          "never pauses for charge.",
                   .min_value = 0,
                   .max_value = 100,
                   .field = EC_FIELD(policy.min_battery_percent)},
    key_descriptor{.name = "policy.max_temperature_c",
                   .type = integer,
                   .default_text = "80",
                   .doc = "Pause when the hottest thermal zone, or the host-fed temperature, is above this "
                          "(degrees Celsius).",
                   .min_value = 1,
                   .max_value = 150,
                   .field = EC_FIELD(policy.max_temperature_c)},
    key_descriptor{.name = "policy.pause_on_metered",
                   .type = boolean,
                   .default_text = "true",
                   .doc = "Pause while the host says the network is metered (cellular).",
                   .field = EC_FIELD(policy.pause_on_metered)},
    key_descriptor{.name = "policy.run_windows",
                   .type = string_list,
                   .default_text = "[]",
                   .doc = "Local-time windows in which work is allowed, such as `\"Mon-Fri 22:00-07:00\"` or "
                          "`\"Sat,Sun 00:00-24:00\"`; outside all of them, pause. Empty: any time.",
                   .field = EC_FIELD(policy.run_windows)},
    key_descriptor{.name = "policy.pause_windows",
                   .type = string_list,
                   .default_text = "[]",
                   .doc = "Local-time windows in which work never runs (same form as `run_windows`).",
                   .field = EC_FIELD(policy.pause_windows)},
    key_descriptor{.name = "policy.max_cpu_load_percent",
                   .type = integer,
                   .default_text = "0",
                   .doc = "Pause when the 1-minute load average, less the agent's own running tasks, is above this "
                          "percentage of the CPUs. 0 is off.",
                   .min_value = 0,
                   .max_value = 10000,
                   .field = EC_FIELD(policy.max_cpu_load_percent)},
    key_descriptor{.name = "policy.max_gpu_busy_percent",
                   .type = integer,
                   .default_text = "0",
                   .doc = "Pause when a GPU that reports its utilisation is busier than this while the agent runs "
                          "nothing. 0 is off.",
                   .min_value = 0,
                   .max_value = 100,
                   .field = EC_FIELD(policy.max_gpu_busy_percent)},
};
#pragma GCC diagnostic pop

#undef EC_FIELD

constexpr std::array<std::string_view, 0> reserved_tables{};  // none now: [policy] became the owner policy

std::string_view section_of(std::string_view name) { return name.substr(0, name.rfind('.')); }
std::string_view leaf_of(std::string_view name) { return name.substr(name.rfind('.') + 1); }

std::string toml_string(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::span<const key_descriptor> config_keys() { return keys; }

const key_descriptor* find_config_key(std::string_view dotted_key) {
  for (const auto& k : keys)
    if (k.name == dotted_key) return &k;
  return nullptr;
}

std::span<const std::string_view> reserved_config_tables() { return reserved_tables; }

std::string env_var_name(std::string_view dotted_key) {
  std::string out = "EDGE_AGENT_";
  for (const char c : dotted_key)
    out += c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

env_map process_environment() {
  env_map env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry{*e};
    if (!entry.starts_with("EDGE_AGENT_")) continue;
    const auto eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return env;
}

std::string format_config_value(const agent_config& config, const key_descriptor& key) {
  // field() takes a mutable config so one accessor serves reading and writing; reading never writes.
  auto& c = const_cast<agent_config&>(config);  // NOLINT(cppcoreguidelines-pro-type-const-cast)
  return std::visit(
      [&](auto* p) -> std::string {
        using T = std::remove_pointer_t<decltype(p)>;
        if constexpr (std::is_same_v<T, std::string>) {
          if (key.secret && !p->empty()) return R"("***")";
          return toml_string(*p);
        } else if constexpr (std::is_same_v<T, bool>) {
          return *p ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          std::string out = "[";
          for (std::size_t i = 0; i < p->size(); ++i) out += (i ? ", " : "") + toml_string((*p)[i]);
          return out + "]";
        } else {
          return std::to_string(*p);
        }
      },
      key.field(c));
}

std::string dump_config(const agent_config& config) {
  std::string out;
  std::string_view section;
  for (const auto& k : keys) {
    if (section_of(k.name) != section) {
      section = section_of(k.name);
      out += (out.empty() ? "[" : "\n[") + std::string(section) + "]\n";
    }
    out += std::string(leaf_of(k.name)) + " = " + format_config_value(config, k) + "\n";
  }
  return out;
}

std::string config_reference_markdown() {
  std::string out;
  std::string_view section;
  for (const auto& k : keys) {
    if (section_of(k.name) != section) {
      section = section_of(k.name);
      if (!out.empty()) out += "\n";
      out += "### `[" + std::string(section) + "]`\n\n";
      out += "| key | type | default | environment | meaning |\n|---|---|---|---|---|\n";
    }
    std::string type;
    switch (k.type) {
      case key_type::string:
        type = "string";
        break;
      case key_type::boolean:
        type = "boolean";
        break;
      case key_type::integer:
        type = "integer " + std::to_string(k.min_value) + "–" + std::to_string(k.max_value);
        break;
      case key_type::string_list:
        type = "list of strings";
        break;
    }
    std::string doc{k.doc};
    if (!k.choices.empty()) {
      std::string choices;
      for (std::size_t pos = 0; pos <= k.choices.size();) {
        const auto bar = std::min(k.choices.find('|', pos), k.choices.size());
        choices +=
            (choices.empty() ? "" : ", ") + std::string("`\"") + std::string(k.choices.substr(pos, bar - pos)) + "\"`";
        pos = bar + 1;
      }
      doc += (k.type == key_type::string_list ? " Entries: " : " One of ") + choices + ".";
    }
    out += "| `" + std::string(k.name) + "` | " + type + " | `" + std::string(k.default_text) + "` | `" +
           env_var_name(k.name) + "` | " + doc + " |\n";
  }
  return out;
}

std::uint64_t effective_max_batch_bytes(const agent_config& config) {
  return config.agent.max_batch_bytes != 0 ? config.agent.max_batch_bytes : config.broker.max_payload_bytes;
}

result<void> apply_override(agent_config& config, std::string_view dotted_key, std::string_view value) {
  detail::problems out;
  const auto* key = find_config_key(dotted_key);
  if (key == nullptr) {
    out.add(dotted_key, "unknown key" + detail::suggestion(dotted_key));
  } else {
    detail::set_from_text(config, *key, value, out);
  }
  if (!out.empty()) return out.to_error();
  return {};
}

namespace detail {

void problems::add(std::string_view key, std::string text, error_code code) {
  std::string line = std::string(key) + ": " + std::move(text);
  if (origins != nullptr) {
    if (const auto it = origins->find(key); it != origins->end()) line += " (from " + it->second + ")";
  }
  list.push_back({code, std::move(line)});
}

error problems::to_error() const {
  std::string message;
  for (const auto& p : list) message += (message.empty() ? "" : "; ") + p.text;
  return fail(list.empty() ? error_code::ok : list.front().code, std::move(message));
}

std::string quote(std::string_view value, bool secret) {
  if (secret) return "'***'";
  constexpr std::size_t max_chars = 80;
  std::string out = "'";
  for (std::size_t i = 0; i < value.size() && i < max_chars; ++i) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (c < 0x20 || c == 0x7f || c == '\'' || c == '\\') {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(c));
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (value.size() > max_chars) out += "...";
  return out + "'";
}

std::string suggestion(std::string_view unknown_key) {
  const key_descriptor* best = nullptr;
  std::size_t best_distance = std::numeric_limits<std::size_t>::max();
  for (const auto& k : keys) {
    // A key written in the wrong table ("region" at the top level) is matched by its leaf name.
    const std::size_t d = std::min(edit_distance(unknown_key, k.name), edit_distance(unknown_key, leaf_of(k.name)) + 1);
    if (d < best_distance) {
      best_distance = d;
      best = &k;
    }
  }
  if (best == nullptr || best_distance > std::max<std::size_t>(2, unknown_key.size() / 4)) return "";
  return "; did you mean " + std::string(best->name) + "?";
}

std::string range_rule(const key_descriptor& key) {
  return "must be between " + std::to_string(key.min_value) + " and " + std::to_string(key.max_value);
}

void set_integer(agent_config& config, const key_descriptor& key, std::int64_t value, problems& out) {
  if (value < key.min_value || value > key.max_value) {
    out.add(key.name, std::to_string(value) + " " + range_rule(key));
    return;
  }
  std::visit(
      [&](auto* p) {
        using T = std::remove_pointer_t<decltype(p)>;
        if constexpr (std::is_same_v<T, std::uint32_t> || std::is_same_v<T, std::uint64_t>) {
          *p = static_cast<T>(value);  // the range above fits the member (checked by a test over the table)
        }
      },
      key.field(config));
}

void set_from_text(agent_config& config, const key_descriptor& key, std::string_view text, problems& out) {
  const auto field = key.field(config);
  switch (key.type) {
    case key_type::string:
      *std::get<std::string*>(field) = std::string(text);
      return;
    case key_type::boolean: {
      const auto t = trim(text);
      if (t == "true" || t == "1" || t == "yes") {
        *std::get<bool*>(field) = true;
      } else if (t == "false" || t == "0" || t == "no") {
        *std::get<bool*>(field) = false;
      } else {
        out.add(key.name, quote(text, key.secret) + " must be true or false");
      }
      return;
    }
    case key_type::integer: {
      // Decimal digits with optional '_' separators, as TOML writes them (1_048_576).
      std::string digits;
      bool negative = false;
      auto t = trim(text);
      if (t.starts_with('-')) {
        negative = true;
        t.remove_prefix(1);
      } else if (t.starts_with('+')) {
        t.remove_prefix(1);
      }
      bool ok = !t.empty() && t.front() != '_' && t.back() != '_';
      for (const char c : t) {
        if (c == '_') continue;
        if (c < '0' || c > '9') ok = false;
        digits += c;
      }
      std::int64_t v = 0;
      if (ok) {
        const auto [ptr, err] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
        ok = err == std::errc{} && ptr == digits.data() + digits.size();
        if (err == std::errc::result_out_of_range) {
          out.add(key.name, quote(text) + " " + range_rule(key));
          return;
        }
      }
      if (!ok) {
        out.add(key.name, quote(text) + " must be an integer");
        return;
      }
      set_integer(config, key, negative ? -v : v, out);
      return;
    }
    case key_type::string_list: {
      auto& list = *std::get<std::vector<std::string>*>(field);
      list.clear();
      for (std::size_t pos = 0; pos <= text.size();) {
        const auto comma = std::min(text.find(',', pos), text.size());
        if (const auto item = trim(text.substr(pos, comma - pos)); !item.empty()) list.emplace_back(item);
        pos = comma + 1;
      }
      return;
    }
  }
}

void apply_environment(agent_config& config, const env_map& env, origin_map& origins, problems& out) {
  for (const auto& [name, value] : env) {
    if (!name.starts_with("EDGE_AGENT_") || name == config_path_env_var) continue;
    const key_descriptor* key = nullptr;
    for (const auto& k : keys)
      if (env_var_name(k.name) == name) key = &k;
    if (key == nullptr) {
      // A typo in a variable name must not be ignored: it would silently keep the file's value.
      std::string hint;
      std::size_t best = std::numeric_limits<std::size_t>::max();
      for (const auto& k : keys) {
        const auto candidate = env_var_name(k.name);
        if (const auto d = edit_distance(name, candidate); d < best && d <= 3) {
          best = d;
          hint = "; did you mean " + candidate + "?";
        }
      }
      out.list.push_back({error_code::invalid_argument, name + ": unknown setting" + hint});
      continue;
    }
    origins[std::string(key->name)] = name;
    const auto before = out.list.size();
    set_from_text(config, *key, value, out);
    for (auto i = before; i < out.list.size(); ++i) out.list[i].text += " (from " + name + ")";
  }
}

void apply_overrides(agent_config& config, std::span<const config_override> overrides, origin_map& origins,
                     problems& out) {
  for (const auto& [name, value] : overrides) {
    const auto* key = find_config_key(name);
    if (key == nullptr) {
      out.list.push_back(
          {error_code::invalid_argument, name + ": unknown key" + suggestion(name) + " (from the command line)"});
      continue;
    }
    origins[name] = "the command line";
    const auto before = out.list.size();
    set_from_text(config, *key, value, out);
    for (auto i = before; i < out.list.size(); ++i) out.list[i].text += " (from the command line)";
  }
}

}  // namespace detail

}  // namespace ec::agent
