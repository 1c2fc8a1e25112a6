// Self-tests catch drivers that compute wrong numbers without an error (phone GPUs do); calibration measures
// what a task will see, so wall time includes upload and download, not just the dispatch.
#include "ec/backends/calibration.hpp"

#include <algorithm>
#include <map>

#include "ec/protocol/tolerance.hpp"

namespace ec::backends {
namespace {

// Sizes per kernel: self-test inputs are small but not aligned to any workgroup size; calibration inputs
// take a few milliseconds on a CPU core, enough to rank devices without delaying start-up.
const std::map<std::string_view, kernel_workload>& workloads() {
  static const std::map<std::string_view, kernel_workload> table{
      {"saxpy", {{1003}, {1 << 22}}},
      {"sgemm", {{33, 17, 29}, {256, 256, 256}}},
      {"reduce_sum", {{5, 1001}, {256, 16384}}},
      {"mandelbrot", {{37, 29}, {256, 256}}},
      {"sha256", {{7, 100}, {4096, 64}}},
      {"histogram", {{1003, 17}, {1 << 22, 256}}},
      {"copy", {{1003}, {1 << 22}}},
  };
  return table;
}

clock::time_point far_deadline() { return clock::now() + std::chrono::seconds(60); }

result<std::vector<protocol::tensor>> run_sample(device& dev, const kernels::kernel_spec& kernel,
                                                 const kernels::sample& s, kernels::bound_call* bound = nullptr) {
  std::vector<protocol::tensor_ref> refs;
  for (const auto& t : s.inputs) refs.push_back(t.ref());
  auto call = kernel.bind(s.params, refs);
  if (!call) return call.err();
  auto out = dev.run(*call, far_deadline());
  if (!out) return out.err();
  if (bound) *bound = std::move(*call);
  return std::move(out->outputs);
}

}  // namespace

kernel_workload workload_for(const kernels::kernel_spec& kernel) {
  const auto it = workloads().find(kernel.name);
  if (it != workloads().end()) return it->second;
  return {std::vector<std::uint64_t>(kernel.dims_count, 7), std::vector<std::uint64_t>(kernel.dims_count, 64)};
}

std::string compare_outputs(const kernels::kernel_spec& kernel, std::span<const protocol::tensor> got,
                            std::span<const protocol::tensor> want) {
  if (got.size() != want.size()) return "output count differs";
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (kernel.validation == protocol::validation_mode::exact) {
      if (got[i].shape != want[i].shape || got[i].type != want[i].type) return got[i].name + ": shape or dtype differs";
      if (got[i].data != want[i].data) {
        std::size_t at = 0;
        while (at < got[i].data.size() && got[i].data[at] == want[i].data[at]) ++at;
        return got[i].name + ": byte " + std::to_string(at) + " differs";
      }
    } else if (auto m = protocol::compare_tensors(got[i].ref(), want[i].ref(), kernel.rtol, kernel.atol)) {
      return got[i].name + ": element " + std::to_string(m->index) + ": " + m->reason;
    }
  }
  return {};
}

device_kernel_record self_test(device& dev, const kernels::kernel_spec& kernel) {
  device_kernel_record r;
  if (!dev.supports(kernel)) {
    r.reason = "not supported by this device";
    return r;
  }
  const auto known = kernel.known_answer();
  auto got = run_sample(dev, kernel, known);
  if (!got) {
    r.reason = "known answer: " + got.err().what();
    return r;
  }
  if (auto diff = compare_outputs(kernel, *got, known.expected); !diff.empty()) {
    r.reason = "known answer: " + diff;
    return r;
  }
  const auto dims = workload_for(kernel).self_test_dims;
  const auto generated = kernel.generate(dims, 20261125, kernels::sample_data::ordinary);
  kernels::bound_call call;
  got = run_sample(dev, kernel, generated, &call);
  if (!got) {
    r.reason = "generated input: " + got.err().what();
    return r;
  }
  if (auto diff = compare_outputs(kernel, *got, kernels::run_reference(call)); !diff.empty()) {
    r.reason = "generated input differs from the reference: " + diff;
    return r;
  }
  r.passed = true;
  return r;
}

void calibrate(device& dev, const kernels::kernel_spec& kernel, device_kernel_record& record, double budget_s) {
  const auto s = kernel.generate(workload_for(kernel).calibration_dims, 1, kernels::sample_data::ordinary);
  std::vector<protocol::tensor_ref> refs;
  for (const auto& t : s.inputs) refs.push_back(t.ref());
  auto call = kernel.bind(s.params, refs);
  if (!call || !dev.run(*call, far_deadline())) return;  // warm-up: compiles and caches the pipeline
  std::vector<double> seconds;
  const auto start = clock::now();
  while (seconds.size() < 3 || (std::chrono::duration<double>(clock::now() - start).count() < budget_s &&
                                seconds.size() < 50)) {
    const auto t0 = clock::now();
    if (!dev.run(*call, far_deadline())) return;
    seconds.push_back(std::chrono::duration<double>(clock::now() - t0).count());
  }
  std::nth_element(seconds.begin(), seconds.begin() + static_cast<std::ptrdiff_t>(seconds.size() / 2), seconds.end());
  record.seconds_per_call = std::max(1e-9, seconds[seconds.size() / 2]);
  record.gbps = static_cast<double>(call->bytes_moved) / record.seconds_per_call / 1e9;
  record.gflops = call->flops / record.seconds_per_call / 1e9;
}

}  // namespace ec::backends
