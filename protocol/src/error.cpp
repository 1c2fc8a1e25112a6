// Names of error codes and message kinds, and hex encoding: the small pieces every log line and test vector uses.
#include "ec/protocol/error.hpp"

#include "ec/protocol/bytes.hpp"
#include "ec/protocol/message_kind.hpp"

namespace ec {

std::string_view to_string(error_code code) noexcept {
  switch (code) {
    case error_code::ok: return "ok";
    case error_code::too_large: return "too_large";
    case error_code::malformed: return "malformed";
    case error_code::wrong_kind: return "wrong_kind";
    case error_code::bad_key_id: return "bad_key_id";
    case error_code::bad_signature: return "bad_signature";
    case error_code::untrusted_key: return "untrusted_key";
    case error_code::misaddressed: return "misaddressed";
    case error_code::bad_enum: return "bad_enum";
    case error_code::bad_tensor: return "bad_tensor";
    case error_code::invalid_key: return "invalid_key";
    case error_code::insecure_key_file: return "insecure_key_file";
    case error_code::io_error: return "io_error";
    case error_code::crypto_error: return "crypto_error";
    case error_code::invalid_argument: return "invalid_argument";
    case error_code::unavailable: return "unavailable";
    case error_code::unsupported: return "unsupported";
    case error_code::device_error: return "device_error";
    case error_code::timeout: return "timeout";
    case error_code::out_of_memory: return "out_of_memory";
  }
  return "unknown";  // a value cast from an out-of-range integer
}

std::string error::what() const {
  std::string out(to_string(code));
  if (!message.empty()) {
    out += ": ";
    out += message;
  }
  return out;
}

}  // namespace ec

namespace ec::protocol {

std::string_view to_string(message_kind kind) noexcept {
  switch (kind) {
    case message_kind::invalid: return "invalid";
    case message_kind::agent_hello: return "agent_hello";
    case message_kind::work_request: return "work_request";
    case message_kind::task_batch: return "task_batch";
    case message_kind::result_batch: return "result_batch";
    case message_kind::receipt: return "receipt";
    case message_kind::control: return "control";
    case message_kind::code: return "code";
  }
  return "unknown";  // the kind byte came off the wire: any value is possible
}

std::string to_hex(byte_span data) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (std::uint8_t b : data) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 0x0f]);
  }
  return out;
}

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool from_hex(std::string_view hex, bytes& out) {
  if (hex.size() % 2 != 0) return false;
  bytes parsed;
  parsed.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = hex_value(hex[i]);
    const int lo = hex_value(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    parsed.push_back(static_cast<std::uint8_t>((hi << 4) | lo));
  }
  out = std::move(parsed);  // out is left untouched on failure
  return true;
}

}  // namespace ec::protocol
