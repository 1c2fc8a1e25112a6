// A fake MQTT v5 broker for resilience tests: a listening socket on a random 127.0.0.1 port that plays a
// scripted byte sequence to each client connection (malformed packets included) and records what the client
// did: whether it sent the expected packets, and whether it dropped the connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ec::test {

/// One scripted step: bytes the broker writes, or a packet it expects from the client.
struct script_step {
  bool from_broker = true;
  std::vector<std::uint8_t> bytes;
};

/// What the client must do before the steps are played.
enum class script_trigger : std::uint8_t {
  none,          // play right after the handshake (or right after the client's CONNECT without one)
  qos1_publish,  // wait for the client's first QoS 1 PUBLISH; its packet id replaces 0x0001 in the steps
  subscribe,     // wait for the client's SUBSCRIBE (left unanswered); its packet id replaces 0x0001 likewise
};

/// What to play on one connection.
struct broker_script {
  bool handshake = true;  // answer the client's CONNECT with a normal v5 CONNACK before the steps
  script_trigger trigger = script_trigger::none;
  bool expect_disconnect = true;  // a correct client closes the connection after the steps
  std::vector<script_step> steps;
  std::chrono::milliseconds step_timeout{2000};  // per expected client packet (CONNECT, trigger, recv steps)
  std::chrono::milliseconds drop_window{1000};   // how long to wait for an expected disconnect
  std::chrono::milliseconds stay_window{200};    // how long to watch a client that should stay connected
};

/// What the client did on one connection.
struct script_outcome {
  bool got_connect = false;                   // the client's first packet was a CONNECT
  bool triggered = true;                      // the trigger happened (always true without one)
  int recv_mismatches = 0;                    // expected packets that did not come, or came with other bytes
  std::string first_mismatch;                 // a description of the first one
  bool client_dropped = false;                // the client closed the connection before the broker did
  std::chrono::milliseconds time_to_drop{0};  // from the last step to the client's close
};

/// One accepted client connection (closed by the destructor).
class fake_connection {
 public:
  explicit fake_connection(int fd) : fd_(fd) {}
  ~fake_connection();
  fake_connection(fake_connection&& other) noexcept;
  fake_connection& operator=(fake_connection&& other) noexcept;
  fake_connection(const fake_connection&) = delete;
  fake_connection& operator=(const fake_connection&) = delete;

  /// Plays `script` on this connection, then closes it from the broker's side.
  script_outcome play(const broker_script& script);

 private:
  enum class read_status : std::uint8_t { packet, timeout, closed };
  // Reads one whole packet into `out` by `deadline`.
  read_status read_packet(std::chrono::steady_clock::time_point deadline, std::vector<std::uint8_t>& out);
  // Reads until a packet of `type` (high nibble) arrives, answering and skipping others.
  read_status read_packet_of_type(std::uint8_t type, std::chrono::steady_clock::time_point deadline,
                                  std::vector<std::uint8_t>& out);
  bool send(const std::vector<std::uint8_t>& bytes);
  // A normal broker's replies to the client's own traffic (SUBACK, PINGRESP), so that the agent goes on.
  void answer(const std::vector<std::uint8_t>& packet);
  // Waits until the client closes or `window` passes, answering its traffic; true when it closed.
  bool wait_for_close(std::chrono::milliseconds window, std::chrono::milliseconds& took);

  int fd_;
  std::vector<std::uint8_t> buffer_;  // bytes read but not yet returned as packets
  bool closed_ = false;
};

/// The listening socket.
class fake_mqtt_broker {
 public:
  /// Binds 127.0.0.1 on a port the kernel picks and listens. Throws std::runtime_error on failure.
  fake_mqtt_broker();
  ~fake_mqtt_broker();
  fake_mqtt_broker(const fake_mqtt_broker&) = delete;
  fake_mqtt_broker& operator=(const fake_mqtt_broker&) = delete;

  /// Waits up to `timeout` for the next client; gives up early when `keep_waiting` returns false.
  std::optional<fake_connection> accept(std::chrono::milliseconds timeout,
                                        const std::function<bool()>& keep_waiting = {});
  /// "mqtt://127.0.0.1:<port>".
  [[nodiscard]] std::string url() const;
  [[nodiscard]] std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

/// The packet id of a QoS 1/2 PUBLISH, or nothing when the packet is not one or is malformed.
std::optional<std::uint16_t> publish_packet_id(const std::vector<std::uint8_t>& packet);
/// The packet id of a SUBSCRIBE, or nothing when the packet is not one or is too short.
std::optional<std::uint16_t> subscribe_packet_id(const std::vector<std::uint8_t>& packet);
/// `packet` with its first two variable-header bytes replaced by `id` when they are 0x0001 (the data set's id).
std::vector<std::uint8_t> with_packet_id(std::vector<std::uint8_t> packet, std::uint16_t id);

}  // namespace ec::test
