#include "ec/protocol/digests.hpp"

#include "ec/protocol/sha256.hpp"

namespace ec::protocol {

sha256_digest task_digest(byte_span task_blob) { return sha256_of(task_blob); }

sha256_digest result_digest(byte_span result_blob) { return sha256_of(result_blob); }

sha256_digest output_digest(const std::vector<tensor_ref>& outputs) {
  sha256 h;
  for (const auto& t : outputs) {
    h.update_u32_le(static_cast<std::uint32_t>(t.name.size()));
    h.update(as_bytes(t.name));
    h.update_byte(static_cast<std::uint8_t>(t.type));
    h.update_u32_le(static_cast<std::uint32_t>(t.shape.size()));
    for (auto d : t.shape) h.update_u64_le(d);
    h.update(t.data);
  }
  return h.finish();
}

}  // namespace ec::protocol
