// Waiting for an OpenCL command with a deadline. OpenCL has no kernel timeout and no way to cancel a command:
// a wait that passes its deadline returns `timeout` and leaves the command running. The device's in-order
// queue then stays busy behind it; the agent's isolation kills the worker process to get the device back.
#pragma once

#include "cl_api.hpp"
#include "ec/backends/device.hpp"
#include "ec/protocol/error.hpp"

namespace ec::backends::opencl {

/// Flushes the event's queue and waits until the command completes or `deadline` passes. `what` names the
/// command in messages. ok, timeout, or device_error (the command ended with a negative status).
result<void> wait_for_event(cl_command_queue queue, cl_event event, clock::time_point deadline, std::string_view what);

}  // namespace ec::backends::opencl
