// Resource groups out of service, as the hello reports them: a group the worker supervisor took out of service
// after repeated crashes (docs/isolation.md) is named in AgentHello.out_of_service and its devices are left out
// of `devices`, so the aggregator matches no task to them.
#pragma once

#include <string>
#include <vector>

#include "ec/protocol/messages.hpp"

namespace ec::agent {

/// Names `groups` in the hello's out_of_service (sorted, within the protocol's bounds) and drops their devices.
void report_out_of_service(protocol::agent_hello& hello, std::vector<std::string> groups);

/// The groups sorted and joined with commas, or "none": for the log and the status file.
std::string group_list(std::vector<std::string> groups);

}  // namespace ec::agent
