// The exact bytes a signature covers: "edgecompute/v1\n" || kind || key_id || len(P) || P || body.
#pragma once

#include "ec/protocol/bytes.hpp"
#include "ec/protocol/error.hpp"
#include "ec/protocol/message_kind.hpp"

namespace ec::protocol {

/// The domain separator that starts every signed input.
inline constexpr std::string_view signing_domain = "edgecompute/v1\n";

/// SHA-256 of the signing input; fails when the prefix is longer than 255 bytes.
result<sha256_digest> signing_digest(message_kind kind, const key_id& signer, std::string_view prefix,
                                     byte_span body);

}  // namespace ec::protocol
