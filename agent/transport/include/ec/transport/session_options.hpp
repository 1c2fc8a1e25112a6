// Everything an MQTT v5 session needs to know before it starts: broker, credential, TLS, timers, limits, will.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace ec::transport {

/// TLS files for an mqtts:// broker; cert_file and key_file together enable a client certificate (mTLS).
struct tls_options {
  std::string ca_file;          // PEM CAs for the broker certificate; "" = the system store
  std::string cert_file;        // client certificate (PEM)
  std::string key_file;         // client private key (PEM)
  bool verify_hostname = true;  // check the broker certificate's name against the URL host
};

/// The Last Will: published by the broker when the connection dies without a clean DISCONNECT.
struct will_options {
  std::string topic;  // "" = no will
  std::vector<std::uint8_t> payload;
  int qos = 1;
  bool retained = true;
};

/// One subscription, restored after every CONNACK without a session.
struct subscription {
  std::string filter;
  int qos = 1;
};

/// Severity of a transport log line.
enum class log_level : std::uint8_t { debug, info, warn, error };

/// Receives the session's log lines (component "mqtt"); never secrets or payloads. Called from any thread.
using log_sink = std::function<void(log_level, std::string_view message)>;

/// Options of one mqtt_session; default-constructed = the documented defaults of `[broker]`.
struct session_options {
  std::string url = "mqtt://127.0.0.1:1883";  // mqtt://, mqtts:// (tcp:// and ssl:// accepted)
  std::string client_id;                      // required; the agent uses its agent_id
  std::string username;                       // "" = none
  std::string password;                       // never logged
  tls_options tls;                            // used with mqtts:// only
  std::uint32_t keepalive_s = 30;
  std::uint32_t connect_timeout_s = 10;
  bool clean_start = false;                     // keep the broker session across reconnects...
  std::uint32_t session_expiry_s = 3600;        // ...for this long after a disconnect
  std::uint32_t reconnect_min_ms = 1000;        // first reconnect ceiling; doubles with full jitter...
  std::uint32_t reconnect_max_ms = 60000;       // ...up to this
  std::uint64_t reconnect_seed = 0;             // jitter seed; 0 = random_device (tests pin it)
  std::size_t max_payload_bytes = 1024 * 1024;  // incoming payloads above this are dropped and counted
  std::size_t max_queued_publishes = 1000;      // publish() fails with `unavailable` beyond this
  std::uint16_t max_inflight = 100;             // our cap on outstanding publishes, below the broker's
  std::uint16_t default_receive_maximum = 20;   // used when the CONNACK carries no Receive Maximum
  will_options will;
  bool allow_insecure_transport = false;  // permit mqtt:// to a host that is not loopback
  log_sink log;                           // empty = one line per event on stderr
};

}  // namespace ec::transport
