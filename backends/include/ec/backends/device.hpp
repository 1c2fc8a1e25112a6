// A compute device seen through one backend: what it is (DeviceInfo) and how to run a bound kernel call on it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "ec/backends/custom_kernel.hpp"
#include "ec/kernels/kernel_spec.hpp"
#include "ec/protocol/error.hpp"
#include "ec/protocol/messages.hpp"

namespace ec::backends {

using clock = std::chrono::steady_clock;

/// Where one run spent its time, in microseconds (compile includes pipeline or program creation on a miss).
struct run_timings {
  std::uint64_t compile_us = 0;
  std::uint64_t upload_us = 0;
  std::uint64_t exec_us = 0;
  std::uint64_t download_us = 0;
};

/// A run's outputs (ordered and shaped as call.outputs) and its timings.
struct run_output {
  std::vector<protocol::tensor> outputs;
  run_timings timings;
};

class device {
public:
  virtual ~device() = default;
  /// DeviceInfo of protocol.md as the backend sees it (kernels and resource_group are filled by the registry).
  [[nodiscard]] virtual const protocol::device_info& info() const = 0;
  /// A stable name for config filters and caches, e.g. "vulkan:0", "opencl:0:0", "cpu".
  [[nodiscard]] virtual std::string id() const = 0;
  /// Whether this device can run the kernel at all (code present, features such as fp64 available).
  [[nodiscard]] virtual bool supports(const kernels::kernel_spec& kernel) const = 0;
  /// Runs a bound call. Checks the call against the device's limits first (clear `unsupported` error), then
  /// compiles (cached), uploads, dispatches and downloads; fails with `timeout` when `deadline` passes first.
  virtual result<run_output> run(const kernels::bound_call& call, clock::time_point deadline) = 0;
  /// Runs custom code (admission verified its signature): checks its declared sizes against the device's limits
  /// and validates the code before compiling; compile time counts against `deadline`. Backends without custom
  /// code support answer `unsupported`.
  virtual result<run_output> run_custom(const custom_call& call, clock::time_point deadline) {
    (void)call;
    (void)deadline;
    return fail(error_code::unsupported, id() + " does not run custom kernels");
  }
};

}  // namespace ec::backends
