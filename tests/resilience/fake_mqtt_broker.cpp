// Sockets with poll() and deadlines; every read is bounded so that a client that stalls cannot hang the test.
// The broker side speaks MQTT v5 only where the script does not: CONNACK (no properties), SUBACK (QoS 1 granted
// for every filter) and PINGRESP, which is what the agent needs to reach the point where it publishes.
#include "fake_mqtt_broker.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace ec::test {
namespace {

using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::uint8_t connect_type = 1;
constexpr std::uint8_t publish_type = 3;
constexpr std::uint8_t subscribe_type = 8;
constexpr std::uint8_t pingreq_type = 12;
constexpr std::size_t max_client_packet = 16 * 1024 * 1024;  // well above the agent's largest publish

// A normal v5 CONNACK: no session present, success, no properties.
const std::vector<std::uint8_t> connack_bytes = {0x20, 0x03, 0x00, 0x00, 0x00};

struct fixed_header {
  std::size_t header_bytes = 0;  // type byte + remaining-length bytes
  std::size_t remaining = 0;
};

// Parses the fixed header at the start of `b`: nothing when incomplete; header_bytes 0 when malformed.
std::optional<fixed_header> parse_fixed_header(const std::vector<std::uint8_t>& b) {
  fixed_header h;
  std::size_t multiplier = 1;
  for (std::size_t i = 1; i <= 4; ++i) {
    if (i >= b.size()) return std::nullopt;
    h.remaining += (b[i] & 0x7fU) * multiplier;
    if ((b[i] & 0x80U) == 0) {
      h.header_bytes = i + 1;
      return h;
    }
    multiplier *= 128;
  }
  return fixed_header{};  // a fifth length byte: malformed
}

int remaining_ms(steady::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

// Appends an MQTT variable byte integer.
void put_varint(std::vector<std::uint8_t>& out, std::size_t v) {
  do {
    std::uint8_t byte = v % 128;
    v /= 128;
    if (v > 0) byte |= 0x80U;
    out.push_back(byte);
  } while (v > 0);
}

// Reads a variable byte integer at `pos`; nothing when it runs past the end.
std::optional<std::size_t> get_varint(const std::vector<std::uint8_t>& b, std::size_t& pos) {
  std::size_t v = 0;
  std::size_t multiplier = 1;
  for (int i = 0; i < 4 && pos < b.size(); ++i) {
    const std::uint8_t byte = b[pos++];
    v += (byte & 0x7fU) * multiplier;
    if ((byte & 0x80U) == 0) return v;
    multiplier *= 128;
  }
  return std::nullopt;
}

// A SUBACK granting QoS 1 to every filter of a v5 SUBSCRIBE; empty when the SUBSCRIBE cannot be read.
std::vector<std::uint8_t> suback_for(const std::vector<std::uint8_t>& sub) {
  const auto h = parse_fixed_header(sub);
  if (!h || h->header_bytes == 0 || sub.size() < h->header_bytes + 2) return {};
  std::size_t pos = h->header_bytes + 2;
  const auto props = get_varint(sub, pos);
  if (!props) return {};
  pos += *props;
  std::size_t filters = 0;
  while (pos + 2 <= sub.size()) {
    pos += 2 + ((static_cast<std::size_t>(sub[pos]) << 8) | sub[pos + 1]) + 1;  // length, filter, options
    ++filters;
  }
  std::vector<std::uint8_t> out = {0x90};
  put_varint(out, 2 + 1 + filters);
  out.push_back(sub[h->header_bytes]);
  out.push_back(sub[h->header_bytes + 1]);
  out.push_back(0x00);  // no properties
  out.insert(out.end(), filters, 0x01);
  return out;
}

std::string hex(const std::vector<std::uint8_t>& b) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < b.size() && i < 48; ++i) {
    out += digits[b[i] >> 4];
    out += digits[b[i] & 0x0f];
  }
  if (b.size() > 48) out += "...";
  return out;
}

}  // namespace

std::optional<std::uint16_t> publish_packet_id(const std::vector<std::uint8_t>& packet) {
  const auto h = parse_fixed_header(packet);
  if (!h || h->header_bytes == 0 || (packet[0] >> 4) != publish_type || (packet[0] & 0x06U) == 0) return std::nullopt;
  const std::size_t topic_at = h->header_bytes;
  if (packet.size() < topic_at + 2) return std::nullopt;
  const std::size_t id_at = topic_at + 2 + ((static_cast<std::size_t>(packet[topic_at]) << 8) | packet[topic_at + 1]);
  if (packet.size() < id_at + 2) return std::nullopt;
  return static_cast<std::uint16_t>((packet[id_at] << 8) | packet[id_at + 1]);
}

std::optional<std::uint16_t> subscribe_packet_id(const std::vector<std::uint8_t>& packet) {
  const auto h = parse_fixed_header(packet);
  if (!h || h->header_bytes == 0 || (packet[0] >> 4) != subscribe_type || packet.size() < h->header_bytes + 2)
    return std::nullopt;
  return static_cast<std::uint16_t>((packet[h->header_bytes] << 8) | packet[h->header_bytes + 1]);
}

std::vector<std::uint8_t> with_packet_id(std::vector<std::uint8_t> packet, std::uint16_t id) {
  const auto h = parse_fixed_header(packet);
  if (!h || h->header_bytes == 0 || packet.size() < h->header_bytes + 2) return packet;
  if (packet[h->header_bytes] != 0x00 || packet[h->header_bytes + 1] != 0x01) return packet;
  packet[h->header_bytes] = static_cast<std::uint8_t>(id >> 8);
  packet[h->header_bytes + 1] = static_cast<std::uint8_t>(id & 0xff);
  return packet;
}

// ---- fake_connection ----

fake_connection::~fake_connection() {
  if (fd_ >= 0) ::close(fd_);
}

fake_connection::fake_connection(fake_connection&& other) noexcept
    : fd_(other.fd_), buffer_(std::move(other.buffer_)), closed_(other.closed_) {
  other.fd_ = -1;
}

fake_connection& fake_connection::operator=(fake_connection&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    buffer_ = std::move(other.buffer_);
    closed_ = other.closed_;
  }
  return *this;
}

bool fake_connection::send(const std::vector<std::uint8_t>& bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    // MSG_NOSIGNAL: a client that already closed gives EPIPE, not a SIGPIPE that kills the test.
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      closed_ = true;
      return false;
    }
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

fake_connection::read_status fake_connection::read_packet(steady::time_point deadline, std::vector<std::uint8_t>& out) {
  for (;;) {
    if (const auto h = parse_fixed_header(buffer_)) {
      if (h->header_bytes == 0 || h->remaining > max_client_packet) return read_status::closed;  // not MQTT
      const std::size_t total = h->header_bytes + h->remaining;
      if (buffer_.size() >= total) {
        out.assign(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(total));
        buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(total));
        return read_status::packet;
      }
    }
    if (closed_) return read_status::closed;
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, remaining_ms(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) return read_status::timeout;
    std::uint8_t chunk[4096];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      closed_ = true;  // orderly close (0) or reset
      continue;        // a complete packet may still be buffered
    }
    buffer_.insert(buffer_.end(), chunk, chunk + n);
  }
}

void fake_connection::answer(const std::vector<std::uint8_t>& packet) {
  const std::uint8_t type = packet.at(0) >> 4;
  if (type == subscribe_type) {
    if (const auto ack = suback_for(packet); !ack.empty()) send(ack);
  } else if (type == pingreq_type) {
    send({0xd0, 0x00});
  }
}

fake_connection::read_status fake_connection::read_packet_of_type(std::uint8_t type, steady::time_point deadline,
                                                                  std::vector<std::uint8_t>& out) {
  for (;;) {
    const auto st = read_packet(deadline, out);
    if (st != read_status::packet) return st;
    if ((out[0] >> 4) == type) return st;
    answer(out);
  }
}

bool fake_connection::wait_for_close(std::chrono::milliseconds window, std::chrono::milliseconds& took) {
  const auto start = steady::now();
  const auto deadline = start + window;
  std::vector<std::uint8_t> packet;
  for (;;) {
    const auto st = read_packet(deadline, packet);
    if (st == read_status::timeout) return false;
    if (st == read_status::closed) {
      took = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - start);
      return true;
    }
    answer(packet);
  }
}

script_outcome fake_connection::play(const broker_script& script) {
  script_outcome out;
  auto mismatch = [&out](std::string what) {
    if (out.recv_mismatches++ == 0) out.first_mismatch = std::move(what);
  };
  std::vector<std::uint8_t> packet;
  // The client speaks first: its CONNECT is read with or without a handshake, so that the steps reach a client
  // that is waiting for its CONNACK.
  const auto connect_status = read_packet(steady::now() + script.step_timeout, packet);
  out.got_connect = connect_status == read_status::packet && (packet[0] >> 4) == connect_type;
  if (script.handshake) send(connack_bytes);

  std::uint16_t packet_id = 1;
  if (script.trigger != script_trigger::none) {
    // The agent subscribes, then publishes its hello (QoS 1): the SUBSCRIBE is answered unless it is the trigger.
    out.triggered = false;
    const bool on_publish = script.trigger == script_trigger::qos1_publish;
    const auto deadline = steady::now() + script.step_timeout;
    while (!out.triggered &&
           read_packet_of_type(on_publish ? publish_type : subscribe_type, deadline, packet) == read_status::packet) {
      if (const auto id = on_publish ? publish_packet_id(packet) : subscribe_packet_id(packet)) {
        packet_id = *id;
        out.triggered = true;
      }
    }
  }
  for (const auto& step : script.steps) {
    const auto bytes = with_packet_id(step.bytes, packet_id);
    if (step.from_broker) {
      send(bytes);
      continue;
    }
    const auto st = read_packet_of_type(bytes.at(0) >> 4, steady::now() + script.step_timeout, packet);
    if (st != read_status::packet) {
      mismatch("expected " + hex(bytes) + ", got " + (st == read_status::closed ? "a close" : "nothing"));
    } else if (packet != bytes) {
      mismatch("expected " + hex(bytes) + ", got " + hex(packet));
    }
  }
  out.client_dropped =
      wait_for_close(script.expect_disconnect ? script.drop_window : script.stay_window, out.time_to_drop);
  ::shutdown(fd_, SHUT_RDWR);
  return out;
}

// ---- fake_mqtt_broker ----

fake_mqtt_broker::fake_mqtt_broker() {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error("fake broker: socket: " + std::string(std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 16) != 0 ||
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const std::string err = std::strerror(errno);
    ::close(fd_);
    throw std::runtime_error("fake broker: bind/listen: " + err);
  }
  port_ = ntohs(addr.sin_port);
}

fake_mqtt_broker::~fake_mqtt_broker() { ::close(fd_); }

std::string fake_mqtt_broker::url() const { return "mqtt://127.0.0.1:" + std::to_string(port_); }

std::optional<fake_connection> fake_mqtt_broker::accept(std::chrono::milliseconds timeout,
                                                        const std::function<bool()>& keep_waiting) {
  const auto deadline = steady::now() + timeout;
  for (;;) {
    // Short slices so that `keep_waiting` (is the client still alive?) is asked often.
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, std::min(remaining_ms(deadline), 50));
    if (ready > 0) {
      const int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) return fake_connection(fd);
    }
    if (steady::now() >= deadline) return std::nullopt;
    if (keep_waiting && !keep_waiting()) return std::nullopt;
  }
}

}  // namespace ec::test
