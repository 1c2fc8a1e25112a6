// The signing input is hashed incrementally, so a 1 MiB body is never copied to be signed.
#include "ec/protocol/signing_input.hpp"

#include "ec/protocol/limits.hpp"
#include "ec/protocol/sha256.hpp"

namespace ec::protocol {

result<sha256_digest> signing_digest(message_kind kind, const key_id& signer, std::string_view prefix,
                                     byte_span body) {
  if (prefix.size() > max_prefix_size) return fail(error_code::invalid_argument, "region prefix longer than 255 bytes");
  sha256 h;
  h.update(as_bytes(signing_domain));
  h.update_byte(static_cast<std::uint8_t>(kind));
  h.update(signer);
  h.update_byte(static_cast<std::uint8_t>(prefix.size()));
  h.update(as_bytes(prefix));
  h.update(body);
  return h.finish();
}

}  // namespace ec::protocol
