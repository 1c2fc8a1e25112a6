// Self-test and calibration of one kernel on one device: prove it computes correctly, then measure it.
#pragma once

#include <span>
#include <string>

#include "ec/backends/device.hpp"
#include "ec/backends/device_cache.hpp"

namespace ec::backends {

/// Problem sizes (dims, as each kernel's dims_doc says) for the self-test's generated input and for calibration.
struct kernel_workload {
  std::vector<std::uint64_t> self_test_dims;
  std::vector<std::uint64_t> calibration_dims;
};

/// The built-in workload of a kernel (a small default for kernels the table does not know).
kernel_workload workload_for(const kernels::kernel_spec& kernel);

/// Runs the known answer and a generated input on `dev`, comparing with the expected outputs and the C++
/// reference under the kernel's validation mode. Fills passed/reason.
device_kernel_record self_test(device& dev, const kernels::kernel_spec& kernel);

/// Times the calibration workload on `dev` (one warm-up, then at least 3 runs and ~`budget_s` seconds, the median
/// kept) and fills seconds_per_call, gbps and gflops of `record`.
void calibrate(device& dev, const kernels::kernel_spec& kernel, device_kernel_record& record, double budget_s = 0.1);

/// Compares outputs with a reference under `kernel`'s validation mode; returns "" when they agree.
std::string compare_outputs(const kernels::kernel_spec& kernel, std::span<const protocol::tensor> got,
                            std::span<const protocol::tensor> want);

}  // namespace ec::backends
