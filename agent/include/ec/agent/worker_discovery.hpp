// Device discovery in a child process with a timeout (BOINC's lesson): a driver that hangs or crashes while
// enumerating costs a report, not the agent. The agent sees the devices through proxies; kernels run in workers.
#pragma once

#include <chrono>
#include <string>

#include "ec/agent/probe.hpp"

namespace ec::agent {

struct discovery_options {
  std::string binary = "/proc/self/exe";       // the edge-agent binary
  probe_options probe;                         // state dir, modules, disabled backends, filters
  std::chrono::milliseconds timeout{120'000};  // cold self-tests and calibration of every device fit easily
  std::uint64_t memory_limit_mib = 0;
  bool idle_priority = true;
  bool test_hang = false;  // test builds only (EC_TEST_HOOKS): the child hangs as a broken driver would
};

/// Probes in `edge-agent worker --discover`; `timeout` (the child is killed) when it does not answer in time.
/// The report's registry holds proxy devices: their DeviceInfo and ids, choices from the child's device cache;
/// running a kernel on a proxy fails (kernels run in workers).
result<probe_report> discover_in_child(const discovery_options& options);

}  // namespace ec::agent
