// The hostile-broker cases (tests/data/mqtt-hostile-broker, from Eclipse Mosquitto's client tests): what a
// malicious or broken broker sends to a client, read from the JSON files into scripts the fake broker plays.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "fake_mqtt_broker.hpp"

namespace ec::test {

/// One case: its origin, the protocol level, what a correct client does, and the script to play.
struct hostile_case {
  std::string file;                      // e.g. "PUBACK.json"
  std::string group;                     // e.g. "v5.0   PUBACK DISALLOWED PROPERTIES"
  std::string name;                      // e.g. "40 with maximum-qos (byte)"
  int version = 5;                       // MQTT protocol level: 3, 4 (3.1.1) or 5
  std::string command;                   // a client action that must happen first ("" = none), e.g. "publish-1"
  std::vector<script_step> group_steps;  // the group's `group_msgs`: what the client sends for `command`
  broker_script script;                  // the test's own `msgs`, handshake and expectation

  /// "FILE | GROUP | NAME", unique across the data set.
  [[nodiscard]] std::string id() const { return file + " | " + group + " | " + name; }
  /// The first byte the broker sends (packet type and flags), 0 when the case sends nothing.
  [[nodiscard]] std::uint8_t first_byte() const;
};

/// Reads every *.json file in `dir` and returns the cases of protocol level `version`, in file order.
/// Throws std::runtime_error on a file that is not in the documented shape.
std::vector<hostile_case> load_hostile_cases(const std::filesystem::path& dir, int version);

/// Decodes a hex payload as the data set writes it ("40 02 0001", spaces ignored); throws on odd digits.
std::vector<std::uint8_t> decode_hex(const std::string& hex);

/// A representative subset: the first case of every group, the first case of every distinct first byte
/// (packet type and flags), and every `every_nth` case; in the original order, each once.
std::vector<hostile_case> representative_subset(const std::vector<hostile_case>& all, std::size_t every_nth);

}  // namespace ec::test
