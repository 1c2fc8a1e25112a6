// The kinds of signed message, as in the envelope's kind byte.
#pragma once

#include <cstdint>
#include <string_view>

namespace ec::protocol {

/// Mirrors ec.wire.MessageKind; 0x10 is the kind byte of custom-kernel code signatures (never an envelope).
enum class message_kind : std::uint8_t {
  invalid = 0,
  agent_hello = 1,
  work_request = 2,
  task_batch = 3,
  result_batch = 4,
  receipt = 5,
  control = 6,
  code = 0x10,
};

/// "task_batch", ...
std::string_view to_string(message_kind kind) noexcept;

/// True for kinds that travel in a SignedEnvelope (1..6).
constexpr bool is_envelope_kind(message_kind kind) {
  return kind >= message_kind::agent_hello && kind <= message_kind::control;
}

/// True for the kinds an agent receives (signed by an aggregator key).
constexpr bool is_agent_bound(message_kind kind) {
  return kind == message_kind::task_batch || kind == message_kind::receipt || kind == message_kind::control;
}

}  // namespace ec::protocol
