// What the aggregator keeps of an agent's hello for matching: the devices it may send work to, never those of a
// resource group the agent reports out of service (docs/isolation.md), and the groups themselves for the log and
// `edgectl agents`.
#pragma once

#include <string>
#include <vector>

#include "ec/protocol/error.hpp"
#include "ec/protocol/messages.hpp"

namespace ec::aggregator {

/// The hello's devices less those of the resource groups it names out of service (an agent leaves them out; one
/// that lists them anyway still gets no task for them).
std::vector<protocol::device_info> devices_in_service(const protocol::agent_hello& hello);

/// The out-of-service groups of a stored hello body, checked again first (the database is a file others write).
result<std::vector<std::string>> stored_out_of_service(protocol::byte_span hello_body);

/// The groups joined with commas, or "none": for the log and `edgectl agents`.
std::string group_list(const std::vector<std::string>& groups);

}  // namespace ec::aggregator
