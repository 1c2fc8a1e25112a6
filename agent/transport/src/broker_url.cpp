#include "ec/transport/broker_url.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace ec::transport {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

std::string broker_url::paho_uri() const {
  const bool v6 = host.find(':') != std::string::npos;
  std::string out = tls ? "ssl://" : "tcp://";
  out += v6 ? "[" + host + "]" : host;
  out += ":" + std::to_string(port);
  return out;
}

result<broker_url> parse_broker_url(std::string_view url) {
  const auto sep = url.find("://");
  if (sep == std::string_view::npos) {
    return fail(error_code::invalid_argument, "broker url has no scheme (mqtt:// or mqtts://)");
  }
  const std::string scheme = lower(url.substr(0, sep));
  broker_url out;
  if (scheme == "mqtt" || scheme == "tcp") {
    out.tls = false;
  } else if (scheme == "mqtts" || scheme == "ssl") {
    out.tls = true;
  } else {
    return fail(error_code::invalid_argument, "broker url scheme '" + scheme + "' is not mqtt, mqtts, tcp or ssl");
  }
  std::string_view rest = url.substr(sep + 3);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find_first_of("/@?#") != std::string_view::npos) {
    return fail(error_code::invalid_argument, "broker url must be scheme://host[:port] without path or user info");
  }
  std::string_view port_text;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return fail(error_code::invalid_argument, "broker url: unclosed '['");
    out.host = std::string(rest.substr(1, close - 1));
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail(error_code::invalid_argument, "broker url: junk after ']'");
      port_text = after.substr(1);
    }
  } else {
    const auto colon = rest.find(':');
    if (colon != std::string_view::npos && rest.find(':', colon + 1) != std::string_view::npos) {
      return fail(error_code::invalid_argument, "broker url: IPv6 addresses go in brackets, e.g. mqtt://[::1]:1883");
    }
    out.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port_text = rest.substr(colon + 1);
  }
  if (out.host.empty()) return fail(error_code::invalid_argument, "broker url has no host");
  if (port_text.empty()) {
    out.port = out.tls ? 8883 : 1883;
  } else {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || value == 0 || value > 65535) {
      return fail(error_code::invalid_argument, "broker url port must be 1..65535");
    }
    out.port = static_cast<std::uint16_t>(value);
  }
  return out;
}

bool is_loopback_host(std::string_view host) noexcept {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty() || host.size() > 64) return false;
  char buf[72];
  std::memcpy(buf, host.data(), host.size());
  buf[host.size()] = '\0';
  for (std::size_t i = 0; i < host.size(); ++i) {
    if (buf[i] >= 'A' && buf[i] <= 'Z') buf[i] = static_cast<char>(buf[i] - 'A' + 'a');
  }
  const std::string_view h(buf, host.size());
  if (h == "localhost" || h == "localhost." || h == "ip6-localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, buf, &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, buf, &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    // ::ffff:127.x.y.z, an IPv4-mapped loopback address.
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

result<broker_url> check_transport_security(std::string_view url, bool allow_insecure) {
  auto parsed = parse_broker_url(url);
  if (!parsed) return parsed;
  if (!parsed->tls && !allow_insecure && !is_loopback_host(parsed->host)) {
    return fail(error_code::invalid_argument,
                "refusing plaintext MQTT to '" + parsed->host +
                    "': use mqtts:// or set allow_insecure_transport = true (only loopback may be plaintext)");
  }
  return parsed;
}

}  // namespace ec::transport
