// A broker address parsed from the configuration, and the rule that keeps plaintext MQTT on loopback.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ec/protocol/error.hpp"

namespace ec::transport {

/// A parsed broker URL: mqtt://, mqtts://, and Paho's spellings tcp:// and ssl://.
struct broker_url {
  bool tls = false;        // mqtts:// or ssl://
  std::string host;        // without brackets for IPv6 ("::1")
  std::uint16_t port = 0;  // 1883 / 8883 when the URL has none

  /// The URI Paho C understands ("tcp://host:port" or "ssl://host:port", IPv6 hosts in brackets).
  [[nodiscard]] std::string paho_uri() const;
};

/// Parses "scheme://host[:port]" (IPv6 as "[::1]:1883"); no path, user info or query is accepted.
result<broker_url> parse_broker_url(std::string_view url);

/// True for "localhost", any 127.0.0.0/8 address and ::1 (also bracketed): traffic that never leaves the host.
bool is_loopback_host(std::string_view host) noexcept;

/// Refuses a non-TLS URL whose host is not loopback unless allow_insecure is true (protocol.md, "Topics and ACLs").
result<broker_url> check_transport_security(std::string_view url, bool allow_insecure);

}  // namespace ec::transport
