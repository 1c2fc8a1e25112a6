// `edge-agent bench`: throughput of each kernel on each device, printed beside that device's STREAM-style copy
// bandwidth measured the same way in the same run, so a figure is always read against its machine's limit.
#pragma once

#include <string>
#include <vector>

#include "ec/agent/probe.hpp"

namespace ec::agent {

struct bench_options {
  std::string kernel;             // only this kernel ("" all)
  std::string device;             // only devices whose id contains this ("" all)
  double seconds_per_case = 0.5;  // timing budget per (kernel, device) after a warm-up run
};

struct bench_row {
  std::string kernel, device;
  std::vector<std::uint64_t> dims;
  double exec_ms = 0;     // median device time of one dispatch
  double total_ms = 0;    // median wall time of one call: upload + dispatch + download
  double gbps = 0;        // bytes read + written / exec time
  double gflops = 0;      // 0 when the kernel has no meaningful flop count
  double copy_gbps = 0;   // the same device's copy kernel, same accounting
  std::uint64_t copy_bytes = 0;
  std::string error;      // why the case could not run
};

/// The problem size bench uses for a kernel (bigger than calibration's).
std::vector<std::uint64_t> bench_dims(std::string_view kernel);
/// Runs every selected (kernel, device) pair.
std::vector<bench_row> run_bench(const probe_report& report, const bench_options& options);
/// Rows as a text table with the machine's limit beside each figure.
std::string bench_text(const std::vector<bench_row>& rows);
/// Rows as JSON.
std::string bench_json(const std::vector<bench_row>& rows);

}  // namespace ec::agent
