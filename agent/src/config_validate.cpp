// The rules of a valid configuration, shared by every way of building one (file, environment, command line, the C
// API): ranges and choices from the key table, then the rules that tie keys together.
#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>

#include "config_detail.hpp"
#include "ec/agent/config.hpp"
#include "ec/agent/log.hpp"
#include "ec/agent/time_window.hpp"
#include "ec/protocol/topics.hpp"

namespace ec::agent {

namespace {

struct broker_url {
  std::string scheme;  // "mqtt" or "mqtts"
  std::string host;    // without brackets
};

// Parses mqtt[s]://host[:port][/]; returns the rule broken, or the parts.
std::variant<broker_url, std::string> parse_broker_url(std::string_view url) {
  const auto sep = url.find("://");
  if (sep == std::string_view::npos) return std::string("must look like mqtt://host:port or mqtts://host:port");
  broker_url out{std::string(url.substr(0, sep)), {}};
  if (out.scheme != "mqtt" && out.scheme != "mqtts") return "must use mqtt:// or mqtts:// (not " + out.scheme + "://)";
  auto rest = url.substr(sep + 3);
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    if (slash + 1 != rest.size()) return std::string("must have no path");
    rest = rest.substr(0, slash);
  }
  if (rest.find('@') != std::string_view::npos)
    return std::string("must not contain credentials; use broker.username and broker.password_file");
  std::string_view port;
  if (rest.starts_with('[')) {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return std::string("has an unclosed '[' around an IPv6 address");
    out.host = std::string(rest.substr(1, close - 1));
    const auto after = rest.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) return std::string("has text after the IPv6 address");
    if (!after.empty()) port = after.substr(1);
  } else {
    const auto colon = rest.find(':');
    out.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port = rest.substr(colon + 1);
  }
  if (out.host.empty()) return std::string("must name a host");
  if (std::any_of(out.host.begin(), out.host.end(), [](char c) { return static_cast<unsigned char>(c) <= ' '; }))
    return std::string("must not contain spaces or control characters in the host");
  const bool has_port_sep = rest.find(':', rest.starts_with('[') ? rest.find(']') : 0) != std::string_view::npos;
  if (has_port_sep) {
    unsigned long value = 0;
    const bool digits = !port.empty() && port.size() <= 5 &&
                        std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (digits) value = std::stoul(std::string(port));
    if (!digits || value == 0 || value > 65535) return std::string("must have a port between 1 and 65535");
  }
  return out;
}

std::string octal_mode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// A file holding a secret: must exist, be a regular file, and give group and others no access (OpenSSH's rule
// for private keys, and protocol/keys.cpp's).
void check_secret_file(std::string_view key, const std::string& path, detail::problems& out) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    out.add(key, "cannot read " + detail::quote(path) + ": " + std::strerror(errno), error_code::io_error);
    return;
  }
  if (!S_ISREG(st.st_mode)) {
    out.add(key, detail::quote(path) + " is not a regular file", error_code::io_error);
    return;
  }
  if ((st.st_mode & 077) != 0)
    out.add(key,
            detail::quote(path) + " has mode " + octal_mode(st.st_mode) +
                " (group or others have access to a secret); run: chmod 600 " + path,
            error_code::insecure_key_file);
}

void check_readable(std::string_view key, const std::string& path, detail::problems& out) {
  if (::access(path.c_str(), R_OK) != 0)
    out.add(key, "cannot read " + detail::quote(path) + ": " + std::strerror(errno), error_code::io_error);
}

bool in_choices(std::string_view choices, std::string_view value) {
  for (std::size_t pos = 0; pos <= choices.size();) {
    const auto bar = std::min(choices.find('|', pos), choices.size());
    if (choices.substr(pos, bar - pos) == value) return true;
    pos = bar + 1;
  }
  return false;
}

std::string choices_text(std::string_view choices) {
  std::string out;
  for (std::size_t pos = 0; pos <= choices.size();) {
    const auto bar = std::min(choices.find('|', pos), choices.size());
    out += (out.empty() ? "'" : ", '") + std::string(choices.substr(pos, bar - pos)) + "'";
    pos = bar + 1;
  }
  return out;
}

// Ranges and choices, straight from the key table.
void check_table_rules(const agent_config& config, detail::problems& out) {
  auto& c = const_cast<agent_config&>(config);  // NOLINT(cppcoreguidelines-pro-type-const-cast): read only
  for (const auto& key : config_keys()) {
    std::visit(
        [&](auto* p) {
          using T = std::remove_pointer_t<decltype(p)>;
          if constexpr (std::is_same_v<T, std::uint32_t> || std::is_same_v<T, std::uint64_t>) {
            if (*p < static_cast<std::uint64_t>(key.min_value) || *p > static_cast<std::uint64_t>(key.max_value))
              out.add(key.name, std::to_string(*p) + " " + detail::range_rule(key));
          } else if constexpr (std::is_same_v<T, std::string>) {
            if (!key.choices.empty() && !in_choices(key.choices, *p))
              out.add(key.name, detail::quote(*p) + " must be one of " + choices_text(key.choices));
          } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
            for (const auto& item : *p) {
              if (item.empty())
                out.add(key.name, "has an empty entry");
              else if (!key.choices.empty() && !in_choices(key.choices, item))
                out.add(key.name, detail::quote(item) + " must be one of " + choices_text(key.choices));
            }
          }
        },
        key.field(c));
  }
}

void check_broker(const broker_config& b, detail::problems& out) {
  const auto parsed = parse_broker_url(b.url);
  bool tls = false;
  if (const auto* rule = std::get_if<std::string>(&parsed)) {
    out.add("broker.url", detail::quote_url(b.url) + " " + *rule);
  } else {
    const auto& url = std::get<broker_url>(parsed);
    tls = url.scheme == "mqtts";
    if (!tls && !b.allow_insecure_transport && !is_loopback_host(url.host))
      out.add("broker.url", detail::quote_url(b.url) + " is not TLS and " + url.host +
                                " is not loopback: the password, tasks and results would cross the network in clear "
                                "text, readable and alterable by anyone on the path; use mqtts:// or set "
                                "broker.allow_insecure_transport = true");
    if (!tls) {
      for (const auto& [key, value] :
           {std::pair{"broker.tls.ca_file", &b.tls.ca_file}, std::pair{"broker.tls.cert_file", &b.tls.cert_file},
            std::pair{"broker.tls.key_file", &b.tls.key_file}})
        if (!value->empty())
          out.add(key, "is set but broker.url " + detail::quote_url(b.url) + " does not use TLS; use mqtts://");
    }
  }
  if (!b.password.empty() && !b.password_file.empty())
    out.add("broker.password", "is set together with broker.password_file; set only one");
  if (!b.password_file.empty()) check_secret_file("broker.password_file", b.password_file, out);
  if (b.tls.cert_file.empty() != b.tls.key_file.empty())
    out.add(b.tls.cert_file.empty() ? "broker.tls.cert_file" : "broker.tls.key_file",
            "must be set together with " +
                std::string(b.tls.cert_file.empty() ? "broker.tls.key_file" : "broker.tls.cert_file"));
  if (tls) {
    if (!b.tls.ca_file.empty()) check_readable("broker.tls.ca_file", b.tls.ca_file, out);
    if (!b.tls.cert_file.empty()) check_readable("broker.tls.cert_file", b.tls.cert_file, out);
    if (!b.tls.key_file.empty()) check_secret_file("broker.tls.key_file", b.tls.key_file, out);
  }
  if (b.reconnect_min_ms > b.reconnect_max_ms)
    out.add("broker.reconnect_max_ms", std::to_string(b.reconnect_max_ms) +
                                           " must be at least broker.reconnect_min_ms (" +
                                           std::to_string(b.reconnect_min_ms) + ")");
}

}  // namespace

bool is_loopback_host(std::string_view host) {
  if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
  std::string h(host);
  std::transform(h.begin(), h.end(), h.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (h == "localhost" || h == "localhost.") return true;
  in_addr v4{};
  if (::inet_pton(AF_INET, h.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (::inet_pton(AF_INET6, h.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;  // ::ffff:127.x.y.z
  }
  return false;
}

result<void> validate(const agent_config& config) {
  detail::problems out;
  detail::validate_into(config, out);
  if (!out.empty()) return out.to_error();
  return {};
}

result<std::string> read_broker_password(const broker_config& broker) {
  if (broker.password_file.empty()) return broker.password;
  const auto& path = broker.password_file;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return fail(error_code::io_error, "broker.password_file: cannot open " + path + ": " + std::strerror(errno));
  // Checked through the descriptor read, so the mode is the mode of the file read.
  struct stat st {};
  std::string text;
  std::optional<error> problem;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    problem = fail(error_code::io_error, "broker.password_file: " + path + " is not a readable regular file");
  } else if ((st.st_mode & 077) != 0) {
    problem = fail(error_code::insecure_key_file, "broker.password_file: " + path + " has mode " +
                                                      octal_mode(st.st_mode) + "; run: chmod 600 " + path);
  } else {
    char buf[4096];
    ssize_t n = 0;
    while (text.size() < 64 * 1024 && ((n = ::read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)))
      if (n > 0) text.append(buf, static_cast<std::size_t>(n));
    if (n < 0) problem = fail(error_code::io_error, "broker.password_file: cannot read " + path);
  }
  ::close(fd);
  if (problem) return *problem;
  text = text.substr(0, text.find('\n'));
  if (!text.empty() && text.back() == '\r') text.pop_back();
  return text;
}

namespace detail {

std::string quote_url(std::string_view url) { return quote(redact(url)); }

void validate_into(const agent_config& config, problems& out) {
  check_table_rules(config, out);
  check_broker(config.broker, out);

  if (!protocol::is_valid_region(config.agent.region))
    out.add("agent.region", quote(config.agent.region) + " must match [a-z0-9-]{1,32}");
  if (config.agent.max_batch_bytes > config.broker.max_payload_bytes)
    out.add("agent.max_batch_bytes", std::to_string(config.agent.max_batch_bytes) +
                                         " must be at most broker.max_payload_bytes (" +
                                         std::to_string(config.broker.max_payload_bytes) + ")");
  if (config.trust.allow_custom_kernels && config.trust.code_keys.empty())
    out.add("trust.allow_custom_kernels", "true needs at least one trust.code_keys entry to verify kernel code");
  if (config.spool.republish_initial_s > config.spool.republish_max_s)
    out.add("spool.republish_max_s", std::to_string(config.spool.republish_max_s) +
                                         " must be at least spool.republish_initial_s (" +
                                         std::to_string(config.spool.republish_initial_s) + ")");
  const auto& disabled = config.devices.disabled_backends;
  if (!config.devices.backend.empty() &&
      std::find(disabled.begin(), disabled.end(), config.devices.backend) != disabled.end())
    out.add("devices.backend", quote(config.devices.backend) + " is also in devices.disabled_backends");
  if (config.policy.sysfs_root.empty() || config.policy.sysfs_root.front() != '/')
    out.add("policy.sysfs_root", quote(config.policy.sysfs_root) + " must be an absolute path");
  const std::pair<std::string_view, const std::vector<std::string>*> window_keys[] = {
      {"policy.run_windows", &config.policy.run_windows}, {"policy.pause_windows", &config.policy.pause_windows}};
  for (const auto& [key, list] : window_keys)
    for (const auto& w : *list)
      if (auto parsed = parse_time_window(w); !parsed) out.add(key, quote(w) + ": " + parsed.err().message);
}

}  // namespace detail

}  // namespace ec::agent
