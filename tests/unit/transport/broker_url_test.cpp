// Broker URL parsing, the loopback rule for plaintext MQTT, the reconnect backoff and the bounded queue:
// everything of ec_mqtt that needs no broker.
#include "ec/transport/broker_url.hpp"

#include <doctest/doctest.h>

#include <string>

#include "ec/transport/mqtt_session.hpp"
#include "ec/transport/reconnect_backoff.hpp"

using namespace ec::transport;

TEST_CASE("broker urls accept mqtt, mqtts, tcp and ssl with default ports") {
  auto a = parse_broker_url("mqtt://broker.example:1884");
  REQUIRE(a.ok());
  CHECK_FALSE(a->tls);
  CHECK(a->host == "broker.example");
  CHECK(a->port == 1884);
  CHECK(a->paho_uri() == "tcp://broker.example:1884");

  auto b = parse_broker_url("mqtts://broker.example");
  REQUIRE(b.ok());
  CHECK(b->tls);
  CHECK(b->port == 8883);
  CHECK(b->paho_uri() == "ssl://broker.example:8883");

  auto c = parse_broker_url("tcp://[::1]");
  REQUIRE(c.ok());
  CHECK(c->host == "::1");
  CHECK(c->port == 1883);
  CHECK(c->paho_uri() == "tcp://[::1]:1883");

  CHECK(parse_broker_url("SSL://h:1").ok());
}

TEST_CASE("broker urls with another scheme, a path, user info or a bad port are refused") {
  for (const char* bad : {"http://h", "h:1883", "mqtt://", "mqtt://h:0", "mqtt://h:65536", "mqtt://h:12x",
                          "mqtt://u:p@h", "mqtt://h/path", "mqtt://::1:1883", "mqtt://[::1"}) {
    CAPTURE(bad);
    CHECK(parse_broker_url(bad).code() == ec::error_code::invalid_argument);
  }
}

TEST_CASE("is_loopback_host accepts localhost, 127/8 and ::1 only") {
  for (const char* host : {"localhost", "LOCALHOST", "127.0.0.1", "127.1.2.3", "::1", "[::1]", "::ffff:127.0.0.1"}) {
    CAPTURE(host);
    CHECK(is_loopback_host(host));
  }
  for (const char* host : {"", "10.0.0.1", "128.0.0.1", "localhost.example.com", "0.0.0.0", "::", "broker",
                           "::ffff:10.0.0.1", "127.0.0.1.example"}) {
    CAPTURE(host);
    CHECK_FALSE(is_loopback_host(host));
  }
}

TEST_CASE("plaintext MQTT to a host that is not loopback is refused unless explicitly allowed") {
  CHECK(check_transport_security("mqtt://127.0.0.1:1883", false).ok());
  CHECK(check_transport_security("mqtts://broker.example", false).ok());
  const auto refused = check_transport_security("mqtt://broker.example", false);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.err().message.find("mqtts://") != std::string::npos);
  CHECK(check_transport_security("mqtt://broker.example", true).ok());

  // The session applies the same rule before it creates any client.
  session_options o;
  o.url = "mqtt://10.1.2.3:1883";
  o.client_id = "a";
  mqtt_session s(o);
  const auto started = s.start();
  REQUIRE_FALSE(started.ok());
  CHECK(started.code() == ec::error_code::invalid_argument);
  CHECK_FALSE(s.connected());
}

TEST_CASE("a session without a client id, or with a client certificate over plaintext, does not start") {
  session_options o;
  o.url = "mqtt://127.0.0.1:1";
  mqtt_session no_id(o);
  CHECK(no_id.start().code() == ec::error_code::invalid_argument);

  o.client_id = "a";
  o.tls.cert_file = "/x.crt";
  o.tls.key_file = "/x.key";
  mqtt_session plaintext_cert(o);
  CHECK(plaintext_cert.start().code() == ec::error_code::invalid_argument);
}

TEST_CASE("reconnect ceilings double from the floor to the cap and delays stay within them") {
  reconnect_backoff b(1000, 60000, 7);
  CHECK(b.ceiling(0).count() == 1000);
  CHECK(b.ceiling(1).count() == 2000);
  CHECK(b.ceiling(5).count() == 32000);
  CHECK(b.ceiling(6).count() == 60000);
  CHECK(b.ceiling(1000).count() == 60000);
  long long sum = 0;
  for (std::uint32_t n = 0; n < 200; ++n) {
    const auto d = b.next_delay(n % 8);
    CHECK(d.count() >= 0);
    CHECK(d <= b.ceiling(n % 8));
    sum += d.count();
  }
  CHECK(sum > 0);  // jittered, not all zero
}

TEST_CASE("full jitter spreads the delays of a fleet over the whole window") {
  // 1000 agents reconnecting after a broker restart: their first delays cover [0, 1 s] roughly uniformly.
  int buckets[4] = {0, 0, 0, 0};
  for (std::uint64_t seed = 1; seed <= 1000; ++seed) {
    reconnect_backoff b(1000, 60000, seed);
    const auto d = b.next_delay(0).count();
    buckets[std::min<long long>(d / 250, 3)]++;
  }
  for (int n : buckets) CHECK(n > 150);
}

TEST_CASE("publish queues while not started and refuses with an error, not an exception, when full") {
  session_options o;
  o.client_id = "a";
  o.max_queued_publishes = 3;
  mqtt_session s(o);
  const std::uint8_t data[] = {1, 2, 3};
  for (int i = 0; i < 3; ++i) CHECK(s.publish("ec/v1/t/work", data).ok());
  const auto full = s.publish("ec/v1/t/work", data);
  CHECK(full.code() == ec::error_code::unavailable);
  CHECK(s.stats().queued == 3);
  CHECK(s.stats().dropped_queue_full == 1);
}

TEST_CASE("publish refuses wildcard topics and QoS 2") {
  session_options o;
  o.client_id = "a";
  mqtt_session s(o);
  const std::uint8_t data[] = {1};
  CHECK(s.publish("ec/v1/+/work", data).code() == ec::error_code::invalid_argument);
  CHECK(s.publish("ec/v1/#", data).code() == ec::error_code::invalid_argument);
  CHECK(s.publish("", data).code() == ec::error_code::invalid_argument);
  CHECK(s.publish("ec/v1/t/work", data, 2).code() == ec::error_code::invalid_argument);
}
