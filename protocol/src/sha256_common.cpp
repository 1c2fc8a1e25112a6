// The parts of SHA-256 that do not depend on the implementation chosen at build time.
#include "ec/protocol/sha256.hpp"

namespace ec::protocol {

sha256& sha256::update_byte(std::uint8_t b) { return update(byte_span(&b, 1)); }

sha256& sha256::update_u32_le(std::uint32_t v) {
  std::uint8_t le[4];
  for (std::size_t i = 0; i < sizeof le; ++i) le[i] = static_cast<std::uint8_t>(v >> (8 * i));
  return update(le);
}

sha256& sha256::update_u64_le(std::uint64_t v) {
  std::uint8_t le[8];
  for (std::size_t i = 0; i < sizeof le; ++i) le[i] = static_cast<std::uint8_t>(v >> (8 * i));
  return update(le);
}

}  // namespace ec::protocol
