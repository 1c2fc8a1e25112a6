// The protocol's digests: task_digest, result_digest and output_digest (protocol.md, "Digests").
#pragma once

#include <vector>

#include "ec/protocol/bytes.hpp"
#include "ec/protocol/messages.hpp"

namespace ec::protocol {

/// SHA-256 of the Task blob bytes exactly as received.
sha256_digest task_digest(byte_span task_blob);
/// SHA-256 of the Result blob bytes exactly as sent.
sha256_digest result_digest(byte_span result_blob);
/// SHA-256 over each output: u32 LE len(name) || name || dtype || u32 LE rank || u64 LE dims || data.
sha256_digest output_digest(const std::vector<tensor_ref>& outputs);

}  // namespace ec::protocol
