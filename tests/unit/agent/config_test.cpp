// The agent's configuration: defaults, TOML, environment and command-line precedence, every class of error naming
// its key, the transport and secret-file rules, and the key table agreeing with the docs and the example file.
#include "ec/agent/config.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

namespace fs = std::filesystem;
using namespace ec::agent;

namespace {

const fs::path source_dir = fs::path(EC_TEST_DATA_DIR) / ".." / "..";

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct temp_dir {
  fs::path path;
  temp_dir() {
    char pattern[] = "/tmp/ec-config-XXXXXX";
    path = ::mkdtemp(pattern);
  }
  ~temp_dir() { fs::remove_all(path); }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  [[nodiscard]] fs::path write(const std::string& name, const std::string& text, fs::perms mode) const {
    const auto p = path / name;
    std::ofstream(p) << text;
    fs::permissions(p, mode, fs::perm_options::replace);
    return p;
  }
};

constexpr auto owner_rw = fs::perms::owner_read | fs::perms::owner_write;
constexpr auto world_readable = owner_rw | fs::perms::group_read | fs::perms::others_read;

// The message of a load that must fail.
std::string load_error(std::string_view toml, const env_map& env = {}, std::span<const config_override> ov = {}) {
  const auto r = load_config(toml, env, ov);
  REQUIRE_FALSE(r.ok());
  return r.err().message;
}

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

}  // namespace

TEST_CASE("config: an empty config file gives the documented defaults") {
  const auto r = load_config("", {});
  REQUIRE_MESSAGE(r.ok(), r.err().what());
  for (const auto& key : config_keys()) CHECK_MESSAGE(format_config_value(*r, key) == key.default_text, key.name);
  CHECK(r->broker.url == "mqtt://127.0.0.1:1883");
  CHECK(r->broker.keepalive_s == 30);
  CHECK(r->broker.max_payload_bytes == 1024 * 1024);
  CHECK(r->broker.tls.verify_hostname);
  CHECK_FALSE(r->broker.allow_insecure_transport);
  CHECK(r->agent.region == "default");
  CHECK(r->agent.max_slots == 1);
  CHECK(r->agent.max_tasks == 4);
  CHECK(r->agent.result_batch_max == 32);
  CHECK(r->agent.result_batch_ms == 50);
  CHECK(r->spool.ttl_s == 7 * 24 * 3600);
  CHECK(r->log.level == "info");
  CHECK(effective_max_batch_bytes(*r) == r->broker.max_payload_bytes);
  CHECK(validate(agent_config{}).ok());
}

TEST_CASE("config: every key descriptor matches its member's type and its range fits the member") {
  agent_config config;
  std::set<std::string_view> names;
  for (const auto& key : config_keys()) {
    CAPTURE(key.name);
    CHECK(names.insert(key.name).second);
    CHECK(find_config_key(key.name) == &key);
    CHECK_FALSE(key.doc.empty());
    REQUIRE(static_cast<bool>(key.field));
    const auto field = key.field(config);
    switch (key.type) {
      case key_type::string:
        CHECK(std::holds_alternative<std::string*>(field));
        break;
      case key_type::boolean:
        CHECK(std::holds_alternative<bool*>(field));
        break;
      case key_type::string_list:
        CHECK(std::holds_alternative<std::vector<std::string>*>(field));
        break;
      case key_type::integer:
        CHECK(key.min_value >= 0);
        CHECK(key.min_value <= key.max_value);
        if (std::holds_alternative<std::uint32_t*>(field)) {
          CHECK(key.max_value <= std::int64_t{UINT32_MAX});
        } else {
          CHECK(std::holds_alternative<std::uint64_t*>(field));
        }
        break;
    }
  }
  CHECK(find_config_key("broker.nope") == nullptr);
  CHECK(env_var_name("broker.tls.ca_file") == "EDGE_AGENT_BROKER_TLS_CA_FILE");
  CHECK(env_var_name("agent.max_slots") == "EDGE_AGENT_AGENT_MAX_SLOTS");
}

TEST_CASE("config: the example agent.toml parses, validates and shows every key") {
  const auto path = source_dir / "examples" / "agent.toml";
  const auto text = read_text(path);
  REQUIRE_FALSE(text.empty());
  const auto r = load_config(text, {});
  REQUIRE_MESSAGE(r.ok(), r.err().what());

  // Every key appears in its section, set or commented out ("# key = ...").
  for (const auto& key : config_keys()) {
    const auto dot = key.name.rfind('.');
    const auto section = "[" + std::string(key.name.substr(0, dot)) + "]";
    const auto leaf = std::string(key.name.substr(dot + 1));
    const auto at = text.find("\n" + section + "\n");
    REQUIRE_MESSAGE(at != std::string::npos, section);
    const auto end = text.find("\n[", at + 1);
    const auto body = text.substr(at, end == std::string::npos ? std::string::npos : end - at);
    CHECK_MESSAGE((contains(body, "\n" + leaf + " = ") || contains(body, "\n# " + leaf + " = ")), key.name);
  }
}

TEST_CASE("config: docs/configuration.md lists every key with its type, default and environment variable") {
  const auto docs = read_text(source_dir / "docs" / "configuration.md");
  REQUIRE_FALSE(docs.empty());
  // The reference tables are rendered from the key table; a changed key shows its expected row here.
  std::istringstream rows(config_reference_markdown());
  for (std::string row; std::getline(rows, row);) CHECK_MESSAGE(contains(docs, row + "\n"), "missing row:\n" << row);
  // ...and the docs describe no key that does not exist.
  std::istringstream lines(docs);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("| `")) continue;
    const auto name = line.substr(3, line.find('`', 3) - 3);
    CHECK_MESSAGE(find_config_key(name) != nullptr, "docs describe an unknown key: " << name);
  }
}

TEST_CASE("config: an invalid region is rejected naming the key, the value and the rule") {
  CHECK(load_error("[agent]\nregion = \"EU_West\"\n") ==
        "agent.region: 'EU_West' must match [a-z0-9-]{1,32} (from line 2)");
  CHECK(load_config("[agent]\nregion = \"eu-west-1\"\n", {})->agent.region == "eu-west-1");
  CHECK(load_config("", {}, std::array{config_override{"agent.region", ""}}).code() ==
        ec::error_code::invalid_argument);
}

TEST_CASE("config: unknown keys and tables are rejected naming the key, with a suggestion") {
  CHECK(load_error("[broker]\nurll = \"mqtt://127.0.0.1\"\n") ==
        "broker.urll: unknown key (line 2); did you mean broker.url?");
  CHECK(contains(load_error("[brokr]\nurl = \"x\"\n"), "brokr: unknown table (line 1)"));
  CHECK(contains(load_error("region = \"eu\"\n"), "region: unknown key (line 1); did you mean agent.region?"));
  CHECK(contains(load_error("[broker.tls]\nca = \"x\"\n"), "broker.tls.ca: unknown key"));
  CHECK(contains(load_error("[agent.region]\nx = 1\n"), "agent.region: expected a string, got a table"));
  // Dotted keys and inline tables reach the same keys.
  const auto dotted = load_config("broker.tls.verify_hostname = false\nagent = { max_slots = 3 }\n", {});
  REQUIRE_MESSAGE(dotted.ok(), dotted.err().what());
  CHECK_FALSE(dotted->broker.tls.verify_hostname);
  CHECK(dotted->agent.max_slots == 3);
}

TEST_CASE("config: the policy table holds the owner policy, refusing unknown keys and malformed windows") {
  const auto c = load_config("[policy]\nmin_battery_percent = 40\nrun_windows = [\"Mon-Fri 22:00-07:00\"]\n", {});
  REQUIRE_MESSAGE(c.ok(), c.err().what());
  CHECK(c->policy.min_battery_percent == 40);
  CHECK(c->policy.run_windows.size() == 1);
  CHECK(contains(load_error("[policy]\nanything = \"later\"\n"), "policy.anything: unknown key"));
  CHECK(contains(load_error("[policy]\npause_windows = [\"Mon 9:00-10:00\"]\n"),
                 "policy.pause_windows: 'Mon 9:00-10:00': time '9:00' must be HH:MM"));
  CHECK(contains(load_error("[policy]\nsysfs_root = \"relative/dir\"\n"), "must be an absolute path"));
}

TEST_CASE("config: wrong types are rejected naming the key and both types") {
  CHECK(load_error("[broker]\nkeepalive_s = \"30\"\n") ==
        "broker.keepalive_s: expected an integer, got a string ('30') (from line 2)");
  CHECK(contains(load_error("[broker]\nkeepalive_s = 30.5\n"), "broker.keepalive_s: expected an integer, got a float"));
  CHECK(contains(load_error("[broker]\nallow_insecure_transport = \"yes\"\n"),
                 "broker.allow_insecure_transport: expected true or false, got a string"));
  CHECK(contains(load_error("[trust]\naggregator_keys = \"/etc/key.pem\"\n"),
                 "trust.aggregator_keys: expected an array of strings, got a string"));
  CHECK(contains(load_error("[trust]\ncode_keys = [\"a.pem\", 3]\n"),
                 "trust.code_keys: expected an array of strings, got an array"));
  CHECK(contains(load_error("[agent]\nregion = 5\n"), "agent.region: expected a string, got an integer (5)"));
}

TEST_CASE("config: integers outside their range are rejected naming the key and the range") {
  CHECK(load_error("[broker]\nkeepalive_s = 0\n") == "broker.keepalive_s: 0 must be between 1 and 65535 (from line 2)");
  CHECK(contains(load_error("[agent]\nmax_slots = -1\n"), "agent.max_slots: -1 must be between 1 and 256"));
  CHECK(contains(load_error("", {{"EDGE_AGENT_SPOOL_MAX_BYTES", "99999999999999999999999"}}),
                 "spool.max_bytes: '99999999999999999999999' must be between"));
  CHECK(
      contains(load_error("", {{"EDGE_AGENT_AGENT_MAX_TASKS", "four"}}), "agent.max_tasks: 'four' must be an integer"));
  // validate() checks ranges of configs built in code too.
  agent_config c;
  c.agent.max_tasks = 0;
  const auto v = validate(c);
  REQUIRE_FALSE(v.ok());
  CHECK(v.err().message == "agent.max_tasks: 0 must be between 1 and 256");
}

TEST_CASE("config: devices.custom_cache_entries defaults to 8, takes 1 to 256 and refuses values outside") {
  CHECK(load_config("", {})->devices.custom_cache_entries == 8);
  const auto set = load_config("[devices]\ncustom_cache_entries = 32\n", {});
  REQUIRE_MESSAGE(set.ok(), set.err().what());
  CHECK(set->devices.custom_cache_entries == 32);
  CHECK(load_config("", {{"EDGE_AGENT_DEVICES_CUSTOM_CACHE_ENTRIES", "256"}})->devices.custom_cache_entries == 256);
  CHECK(load_error("[devices]\ncustom_cache_entries = 0\n") ==
        "devices.custom_cache_entries: 0 must be between 1 and 256 (from line 2)");
  CHECK(contains(load_error("[devices]\ncustom_cache_entries = 257\n"),
                 "devices.custom_cache_entries: 257 must be between 1 and 256"));
}

TEST_CASE("config: environment variables override the file") {
  const std::string file = "[agent]\nregion = \"from-file\"\nmax_slots = 2\n[broker]\nkeepalive_s = 45\n";
  const env_map env{{"EDGE_AGENT_AGENT_REGION", "from-env"},
                    {"EDGE_AGENT_AGENT_MAX_SLOTS", "8"},
                    {"EDGE_AGENT_TRUST_AGGREGATOR_KEYS", " /etc/a.pem, /etc/b.pem ,"},
                    {"EDGE_AGENT_BROKER_TLS_VERIFY_HOSTNAME", "false"},
                    {"EDGE_AGENT_SPOOL_MAX_BYTES", "536_870_912"},
                    {"EDGE_AGENT_CONFIG", "/etc/edge-agent/agent.toml"},
                    {"HOME", "/root"}};
  const auto r = load_config(file, env);
  REQUIRE_MESSAGE(r.ok(), r.err().what());
  CHECK(r->agent.region == "from-env");
  CHECK(r->agent.max_slots == 8);
  CHECK(r->broker.keepalive_s == 45);  // not in the environment: the file's value stays
  CHECK(r->trust.aggregator_keys == std::vector<std::string>{"/etc/a.pem", "/etc/b.pem"});
  CHECK_FALSE(r->broker.tls.verify_hostname);
  CHECK(r->spool.max_bytes == 536'870'912);
  // An empty variable empties a list.
  const auto empty = load_config("[trust]\ncode_keys = [\"c.pem\"]\n", {{"EDGE_AGENT_TRUST_CODE_KEYS", ""}});
  REQUIRE(empty.ok());
  CHECK(empty->trust.code_keys.empty());
}

TEST_CASE("config: unknown EDGE_AGENT_ variables are rejected with a suggestion") {
  CHECK(load_error("", {{"EDGE_AGENT_BROKER_URI", "mqtt://127.0.0.1"}}) ==
        "EDGE_AGENT_BROKER_URI: unknown setting; did you mean EDGE_AGENT_BROKER_URL?");
  CHECK(contains(load_error("", {{"EDGE_AGENT_BROKER_ALLOW_INSECURE_TRANSPORT", "maybe"}}),
                 "broker.allow_insecure_transport: 'maybe' must be true or false (from "
                 "EDGE_AGENT_BROKER_ALLOW_INSECURE_TRANSPORT)"));
}

TEST_CASE("config: command-line overrides beat the environment") {
  const env_map env{{"EDGE_AGENT_BROKER_URL", "mqtt://localhost:1884"}, {"EDGE_AGENT_LOG_LEVEL", "warn"}};
  const std::array overrides{config_override{"broker.url", "mqtts://broker.example:8883"},
                             config_override{"log.level", "debug"}};
  const auto r = load_config("[broker]\nurl = \"mqtt://127.0.0.1:1883\"\n", env, overrides);
  REQUIRE_MESSAGE(r.ok(), r.err().what());
  CHECK(r->broker.url == "mqtts://broker.example:8883");
  CHECK(r->log.level == "debug");

  agent_config c;
  REQUIRE(apply_override(c, "agent.max_tasks", "16").ok());
  CHECK(c.agent.max_tasks == 16);
  REQUIRE(apply_override(c, "devices.disabled_backends", "vulkan,opencl").ok());
  CHECK(c.devices.disabled_backends == std::vector<std::string>{"vulkan", "opencl"});
  const auto unknown = apply_override(c, "agent.max_task", "16");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.err().message == "agent.max_task: unknown key; did you mean agent.max_tasks?");
  const auto bad = apply_override(c, "agent.max_tasks", "lots");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.err().message == "agent.max_tasks: 'lots' must be an integer");
  // An override can repair what the file got wrong: validation runs after every source.
  CHECK(load_config("[agent]\nregion = \"EU\"\n", {}, std::array{config_override{"agent.region", "eu"}}).ok());
}

TEST_CASE("config: errors say where the offending value came from") {
  CHECK(load_error("", {{"EDGE_AGENT_AGENT_REGION", "Bad Region"}}) ==
        "agent.region: 'Bad Region' must match [a-z0-9-]{1,32} (from EDGE_AGENT_AGENT_REGION)");
  CHECK(load_error("", {}, std::array{config_override{"log.level", "verbose"}}) ==
        "log.level: 'verbose' must be one of 'error', 'warn', 'info', 'debug' (from the command line)");
}

TEST_CASE("config: a plain-TCP broker off loopback is refused unless insecure transport is allowed") {
  for (const char* url :
       {"mqtt://10.0.0.5:1883", "mqtt://broker.example", "mqtt://[2001:db8::1]:1883", "mqtt://128.0.0.1"}) {
    CAPTURE(url);
    const auto msg = load_error(std::string("[broker]\nurl = \"") + url + "\"\n");
    CHECK(msg.starts_with("broker.url: '"));
    CHECK(contains(msg, "is not TLS"));
    CHECK(contains(msg, "clear text"));
    CHECK(contains(msg, "broker.allow_insecure_transport = true"));
    CHECK(load_config(std::string("[broker]\nurl = \"") + url + "\"\nallow_insecure_transport = true\n", {}).ok());
  }
  for (const char* url : {"mqtt://127.0.0.1:1883", "mqtt://127.1.2.3", "mqtt://localhost:1883", "mqtt://LocalHost",
                          "mqtt://[::1]:1883", "mqtts://broker.example:8883", "mqtts://10.0.0.5"}) {
    CAPTURE(url);
    const auto r = load_config(std::string("[broker]\nurl = \"") + url + "\"\n", {});
    CHECK_MESSAGE(r.ok(), (r.ok() ? "" : r.err().message));
  }
}

TEST_CASE("config: loopback means localhost, 127.0.0.0/8 and ::1") {
  CHECK(is_loopback_host("localhost"));
  CHECK(is_loopback_host("127.0.0.1"));
  CHECK(is_loopback_host("127.255.255.254"));
  CHECK(is_loopback_host("::1"));
  CHECK(is_loopback_host("[::1]"));
  CHECK(is_loopback_host("0:0:0:0:0:0:0:1"));
  CHECK(is_loopback_host("::ffff:127.0.0.1"));
  CHECK_FALSE(is_loopback_host("127.0.0.1.example.com"));
  CHECK_FALSE(is_loopback_host("localhost.example.com"));
  CHECK_FALSE(is_loopback_host("10.0.0.1"));
  CHECK_FALSE(is_loopback_host("::2"));
  CHECK_FALSE(is_loopback_host(""));
}

TEST_CASE(
    "config: broker URLs with credentials, paths, bad schemes or bad ports are rejected without echoing passwords") {
  const auto creds = load_error("[broker]\nurl = \"mqtts://agent:hunter2@broker.example\"\n");
  CHECK(contains(creds, "broker.url: 'mqtts://agent:***@broker.example' must not contain credentials"));
  CHECK_FALSE(contains(creds, "hunter2"));
  CHECK(contains(load_error("[broker]\nurl = \"http://127.0.0.1\"\n"), "must use mqtt:// or mqtts://"));
  CHECK(contains(load_error("[broker]\nurl = \"127.0.0.1:1883\"\n"), "must look like mqtt://host:port"));
  CHECK(contains(load_error("[broker]\nurl = \"mqtt://127.0.0.1:0\"\n"), "port between 1 and 65535"));
  CHECK(contains(load_error("[broker]\nurl = \"mqtt://127.0.0.1:99999\"\n"), "port between 1 and 65535"));
  CHECK(contains(load_error("[broker]\nurl = \"mqtt://127.0.0.1:\"\n"), "port between 1 and 65535"));
  CHECK(contains(load_error("[broker]\nurl = \"mqtt://127.0.0.1/topic\"\n"), "must have no path"));
  CHECK(contains(load_error("[broker]\nurl = \"mqtt://:1883\"\n"), "must name a host"));
  CHECK(contains(load_error("[broker]\nurl = \"mqtt://local host\"\n"), "spaces or control characters"));
}

TEST_CASE("config: a password file readable by group or others is refused like an SSH key") {
  temp_dir dir;
  const auto loose = dir.write("loose", "s3cret\n", world_readable);
  const auto tight = dir.write("tight", "s3cret\r\nsecond line\n", owner_rw);

  const auto r = load_config("", {{"EDGE_AGENT_BROKER_PASSWORD_FILE", loose.string()}});
  REQUIRE_FALSE(r.ok());
  CHECK(r.code() == ec::error_code::insecure_key_file);
  CHECK(r.err().message.starts_with("broker.password_file: '" + loose.string() + "' has mode 0644"));
  CHECK(contains(r.err().message, "chmod 600"));
  CHECK_FALSE(contains(r.err().message, "s3cret"));

  const auto ok = load_config("", {{"EDGE_AGENT_BROKER_PASSWORD_FILE", tight.string()}});
  REQUIRE_MESSAGE(ok.ok(), ok.err().what());
  const auto password = read_broker_password(ok->broker);
  REQUIRE(password.ok());
  CHECK(*password == "s3cret");

  // The file is re-checked when read, in case its mode changed since loading.
  fs::permissions(tight, fs::perms::group_read, fs::perm_options::add);
  CHECK(read_broker_password(ok->broker).code() == ec::error_code::insecure_key_file);

  const auto missing = load_config("", {{"EDGE_AGENT_BROKER_PASSWORD_FILE", (dir.path / "nope").string()}});
  CHECK(missing.code() == ec::error_code::io_error);
  CHECK(missing.err().message.starts_with("broker.password_file: cannot read"));

  broker_config inline_password;
  inline_password.password = "direct";
  CHECK(*read_broker_password(inline_password) == "direct");
}

TEST_CASE("config: a password and a password file together are refused") {
  temp_dir dir;
  const auto file = dir.write("pw", "x\n", owner_rw);
  const auto msg = load_error("[broker]\npassword = \"inline\"\npassword_file = \"" + file.string() + "\"\n");
  CHECK(contains(msg, "broker.password: is set together with broker.password_file"));
  CHECK_FALSE(contains(msg, "inline"));
}

TEST_CASE("config: TLS files need an mqtts URL, and a client certificate comes with its key") {
  CHECK(contains(load_error("[broker.tls]\nca_file = \"/etc/ssl/certs/ca-certificates.crt\"\n"),
                 "broker.tls.ca_file: is set but broker.url 'mqtt://127.0.0.1:1883' does not use TLS"));
  temp_dir dir;
  const auto cert = dir.write("cert.pem", "cert", world_readable);
  const auto key = dir.write("key.pem", "key", owner_rw);
  const std::string url = "[broker]\nurl = \"mqtts://broker.example\"\n";
  CHECK(contains(load_error(url + "[broker.tls]\ncert_file = \"" + cert.string() + "\"\n"),
                 "broker.tls.key_file: must be set together with broker.tls.cert_file"));
  const auto ok = load_config(url + "[broker.tls]\ncert_file = \"" + cert.string() + "\"\nkey_file = \"" +
                                  key.string() + "\"\nca_file = \"" + cert.string() + "\"\n",
                              {});
  CHECK_MESSAGE(ok.ok(), (ok.ok() ? "" : ok.err().message));
  fs::permissions(key, fs::perms::others_read, fs::perm_options::add);
  const auto loose = load_config(
      url + "[broker.tls]\ncert_file = \"" + cert.string() + "\"\nkey_file = \"" + key.string() + "\"\n", {});
  CHECK(loose.code() == ec::error_code::insecure_key_file);
  CHECK(contains(load_error(url + "[broker.tls]\nca_file = \"" + (dir.path / "none.pem").string() + "\"\n"),
                 "broker.tls.ca_file: cannot read"));
}

TEST_CASE("config: rules that tie keys together name the key to fix") {
  CHECK(contains(load_error("[broker]\nreconnect_min_ms = 5000\nreconnect_max_ms = 2000\n"),
                 "broker.reconnect_max_ms: 2000 must be at least broker.reconnect_min_ms (5000)"));
  CHECK(contains(load_error("[spool]\nrepublish_initial_s = 600\n"),
                 "spool.republish_max_s: 300 must be at least spool.republish_initial_s (600)"));
  CHECK(contains(load_error("[agent]\nmax_batch_bytes = 2000000\n"),
                 "agent.max_batch_bytes: 2000000 must be at most broker.max_payload_bytes (1048576)"));
  CHECK(contains(load_error("[trust]\nallow_custom_kernels = true\n"),
                 "trust.allow_custom_kernels: true needs at least one trust.code_keys entry"));
  CHECK(load_config("[trust]\nallow_custom_kernels = true\ncode_keys = [\"/etc/code.pem\"]\n", {}).ok());
  CHECK(contains(load_error("[devices]\nbackend = \"cuda\"\n"),
                 "devices.backend: 'cuda' must be one of '', 'vulkan', 'opencl', 'cpu'"));
  CHECK(contains(load_error("[devices]\ndisabled_backends = [\"cpu\"]\n"),
                 "devices.disabled_backends: 'cpu' must be one of 'vulkan', 'opencl'"));
  CHECK(contains(load_error("[devices]\nbackend = \"vulkan\"\ndisabled_backends = [\"vulkan\"]\n"),
                 "devices.backend: 'vulkan' is also in devices.disabled_backends"));
  CHECK(contains(load_error("[trust]\naggregator_keys = [\"\"]\n"), "trust.aggregator_keys: has an empty entry"));
}

TEST_CASE("config: every problem is reported at once") {
  const auto r = load_config("[agent]\nregion = \"EU\"\n[log]\nlevel = \"loud\"\n", {});
  REQUIRE_FALSE(r.ok());
  CHECK(r.code() == ec::error_code::invalid_argument);
  CHECK(contains(r.err().message, "agent.region: 'EU' must match"));
  CHECK(contains(r.err().message, "log.level: 'loud' must be one of"));
  CHECK(contains(r.err().message, "; "));
}

TEST_CASE("config: TOML syntax errors give the line and column") {
  const auto msg = load_error("[broker]\nurl = \"mqtt://127.0.0.1\n");
  CHECK(msg.starts_with("TOML line 2:"));
  CHECK(contains(load_error("[broker]\nkeepalive_s = 1\nkeepalive_s = 2\n"), "TOML line 3:"));
}

TEST_CASE("config: load_config_file names the file and refuses secrets written in a readable config") {
  temp_dir dir;
  const auto good = dir.write("agent.toml", "[agent]\nregion = \"lab\"\n", world_readable);
  const auto r = load_config_file(good, {});
  REQUIRE_MESSAGE(r.ok(), r.err().what());
  CHECK(r->agent.region == "lab");

  const auto bad = dir.write("bad.toml", "[agent]\nregion = \"Lab\"\n", world_readable);
  CHECK(load_config_file(bad, {}).err().message ==
        "agent.region: 'Lab' must match [a-z0-9-]{1,32} (from " + bad.string() + ":2)");

  const auto secret = dir.write("secret.toml", "[agent]\nenrollment_token = \"tok-123\"\n", world_readable);
  const auto refused = load_config_file(secret, {});
  CHECK(refused.code() == ec::error_code::insecure_key_file);
  CHECK(contains(refused.err().message, "agent.enrollment_token: is written in " + secret.string()));
  CHECK_FALSE(contains(refused.err().message, "tok-123"));
  fs::permissions(secret, owner_rw, fs::perm_options::replace);
  CHECK(load_config_file(secret, {}).ok());

  CHECK(load_config_file(dir.path / "missing.toml", {}).code() == ec::error_code::io_error);
}

TEST_CASE("config: dump_config writes TOML that loads back to the same values, secrets redacted") {
  agent_config c;
  c.agent.region = "lab-2";
  c.agent.enrollment_token = "tok-secret";
  c.broker.url = "mqtts://broker.example:8883";
  c.trust.aggregator_keys = {"/etc/a \"quoted\".pem", "/etc/b.pem"};
  c.devices.cpu_threads = 3;
  const auto text = dump_config(c);
  CHECK_FALSE(contains(text, "tok-secret"));
  CHECK(contains(text, "enrollment_token = \"***\""));
  c.agent.enrollment_token = "***";
  const auto back = load_config(text, {});
  REQUIRE_MESSAGE(back.ok(), back.err().what());
  for (const auto& key : config_keys())
    CHECK_MESSAGE(format_config_value(*back, key) == format_config_value(c, key), key.name);
}

TEST_CASE("config: secrets are never echoed in error messages") {
  const auto msg = load_error("[broker]\npassword = 12345\n");
  CHECK(contains(msg, "broker.password: expected a string, got an integer"));
  CHECK_FALSE(contains(msg, "12345"));
}
