// How many bytes decode() would allocate for a verified table. FlatBuffers lets many offsets share one string or
// vector, so a 1 MiB message could otherwise decode into gigabytes; check 5 caps this sum per body.
#pragma once

#include <cstdint>

#include "ec/wire/agent_hello_generated.h"
#include "ec/wire/control_generated.h"
#include "ec/wire/receipt_generated.h"
#include "ec/wire/result_batch_generated.h"
#include "ec/wire/task_batch_generated.h"
#include "ec/wire/work_request_generated.h"

namespace ec::protocol::detail {

/// Bytes decode() allocates for variable-size fields, each shared string or vector counted once per reference.
std::uint64_t decoded_size(const wire::Task& t);
std::uint64_t decoded_size(const wire::Result& r);
std::uint64_t decoded_size(const wire::AgentHello& h);
std::uint64_t decoded_size(const wire::WorkRequest& w);
std::uint64_t decoded_size(const wire::Receipt& r);
std::uint64_t decoded_size(const wire::Control& c);
std::uint64_t decoded_size(const wire::TaskBatch& b);
std::uint64_t decoded_size(const wire::ResultBatch& b);

}  // namespace ec::protocol::detail
