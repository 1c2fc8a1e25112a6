// Byte buffers and fixed-size digests used across the wire protocol.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ec::protocol {

using bytes = std::vector<std::uint8_t>;
using byte_span = std::span<const std::uint8_t>;
using sha256_digest = std::array<std::uint8_t, 32>;
using key_id = std::array<std::uint8_t, 32>;         // SHA-256 of the canonical SPKI DER
using raw_signature = std::array<std::uint8_t, 64>;  // r || s, big-endian, s in the low half

/// Lowercase hex of any byte range.
std::string to_hex(byte_span data);

/// Parses lowercase or uppercase hex; returns false on odd length or a non-hex character.
bool from_hex(std::string_view hex, bytes& out);

/// Views a string's characters as bytes.
inline byte_span as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace ec::protocol
