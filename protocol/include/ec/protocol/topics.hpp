// MQTT topic names of protocol version 1, built from the region prefix P = ec/v1/<region>.
#pragma once

#include <string>
#include <string_view>

#include "ec/protocol/error.hpp"

namespace ec::protocol {

/// True when region matches [a-z0-9-]{1,32}.
bool is_valid_region(std::string_view region);
/// True when agent_id is 32 lowercase hex characters.
bool is_valid_agent_id(std::string_view agent_id);

/// The topics of one region; every name is derived from the prefix.
class topics {
public:
  /// Fails with invalid_argument when the region is not [a-z0-9-]{1,32}.
  static result<topics> for_region(std::string_view region);

  [[nodiscard]] const std::string& prefix() const { return prefix_; }  // ec/v1/<region>
  [[nodiscard]] std::string hello(std::string_view agent_id) const;     // P/agents/<id>/hello
  [[nodiscard]] std::string tasks(std::string_view agent_id) const;     // P/agents/<id>/tasks
  [[nodiscard]] std::string receipts(std::string_view agent_id) const;  // P/agents/<id>/receipts
  [[nodiscard]] std::string control(std::string_view agent_id) const;   // P/agents/<id>/control
  [[nodiscard]] std::string work() const;                               // P/work
  [[nodiscard]] std::string results() const;                            // P/results
  [[nodiscard]] std::string region_control() const;                     // P/control
  [[nodiscard]] std::string shared_work() const;                        // $share/aggregators/P/work
  [[nodiscard]] std::string shared_results() const;                     // $share/aggregators/P/results
  [[nodiscard]] std::string all_hellos() const;                         // P/agents/+/hello

private:
  explicit topics(std::string prefix) : prefix_(std::move(prefix)) {}
  [[nodiscard]] std::string agent_topic(std::string_view agent_id, std::string_view leaf) const;
  std::string prefix_;
};

}  // namespace ec::protocol
