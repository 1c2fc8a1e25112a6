// Bench figures use the device's own dispatch time (exec_us) so that a GPU's upload over a slow bus does not hide
// its compute rate; the wall time per call is printed beside it because that is what a task pays.
#include "ec/agent/bench.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "ec/agent/json_writer.hpp"
#include "ec/kernels/catalog.hpp"

namespace ec::agent {
namespace {

using seconds = std::chrono::duration<double>;

std::uint64_t last_level_cache_bytes() {
  const long l3 = ::sysconf(_SC_LEVEL3_CACHE_SIZE), l2 = ::sysconf(_SC_LEVEL2_CACHE_SIZE);
  return static_cast<std::uint64_t>(l3 > 0 ? l3 : (l2 > 0 ? l2 : 8 << 20));
}

struct timing {
  double exec_s = 0, total_s = 0;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// One warm-up (compiles, caches), then at least 3 timed runs within the budget.
result<timing> time_call(backends::device& dev, const kernels::bound_call& call, double budget_s) {
  const auto deadline = [] { return backends::clock::now() + std::chrono::seconds(120); };
  if (auto w = dev.run(call, deadline()); !w) return w.err();
  std::vector<double> exec, total;
  const auto start = backends::clock::now();
  while (exec.size() < 3 || (seconds(backends::clock::now() - start).count() < budget_s && exec.size() < 100)) {
    const auto t0 = backends::clock::now();
    auto r = dev.run(call, deadline());
    if (!r) return r.err();
    total.push_back(seconds(backends::clock::now() - t0).count());
    exec.push_back(static_cast<double>(std::max<std::uint64_t>(1, r->timings.exec_us)) * 1e-6);
  }
  return timing{median(exec), median(total)};
}

struct bound_sample {
  kernels::sample s;
  std::vector<protocol::tensor_ref> refs;
};

result<kernels::bound_call> bind_generated(const kernels::kernel_spec& k, const std::vector<std::uint64_t>& dims,
                                           bound_sample& keep) {
  keep.s = k.generate(dims, 7, kernels::sample_data::ordinary);
  for (const auto& t : keep.s.inputs) keep.refs.push_back(t.ref());
  return k.bind(keep.s.params, keep.refs);
}

// Copy bandwidth of a device: arrays of 4x the last-level cache, capped by what one buffer may hold.
std::pair<double, std::uint64_t> copy_bandwidth(const backends::device_entry& d, double budget_s) {
  const auto* copy = kernels::find_kernel("copy");
  if (!copy) return {0, 0};
  std::uint64_t bytes = std::min<std::uint64_t>({4 * last_level_cache_bytes(), d.info.max_buffer_bytes, 256ull << 20});
  bound_sample keep;
  auto call = bind_generated(*copy, {bytes / 4}, keep);
  if (!call) return {0, 0};
  auto t = time_call(*d.dev, *call, budget_s);
  if (!t) return {0, 0};
  return {static_cast<double>(call->bytes_moved) / t->exec_s / 1e9, bytes};
}

}  // namespace

std::vector<std::uint64_t> bench_dims(std::string_view kernel) {
  static const std::map<std::string_view, std::vector<std::uint64_t>> table{
      {"saxpy", {1 << 23}},          {"sgemm", {1024, 1024, 1024}}, {"reduce_sum", {1024, 16384}},
      {"mandelbrot", {1024, 768}},   {"sha256", {65536, 64}},       {"histogram", {1 << 24, 256}},
      {"copy", {1 << 24}},
  };
  const auto it = table.find(kernel);
  return it != table.end() ? it->second : std::vector<std::uint64_t>{1024};
}

std::vector<bench_row> run_bench(const probe_report& report, const bench_options& options) {
  std::vector<bench_row> rows;
  for (const auto& d : report.devices->devices()) {
    if (!options.device.empty() && d.dev->id().find(options.device) == std::string::npos) continue;
    const auto [copy_gbps, copy_bytes] = copy_bandwidth(d, options.seconds_per_case);
    for (const auto* k : kernels::catalog()) {
      if (!options.kernel.empty() && k->name != options.kernel) continue;
      bench_row row;
      row.kernel = k->name;
      row.device = d.dev->id();
      row.dims = bench_dims(k->name);
      row.copy_gbps = copy_gbps;
      row.copy_bytes = copy_bytes;
      bound_sample keep;
      auto call = bind_generated(*k, row.dims, keep);
      auto t = call ? time_call(*d.dev, *call, options.seconds_per_case) : result<timing>(call.err());
      if (!t) {
        row.error = t.err().what();
      } else {
        row.exec_ms = t->exec_s * 1e3;
        row.total_ms = t->total_s * 1e3;
        row.gbps = static_cast<double>(call->bytes_moved) / t->exec_s / 1e9;
        row.gflops = call->flops / t->exec_s / 1e9;
      }
      rows.push_back(std::move(row));
    }
    // The limit is the best copy seen on this device: the first copy run can pay for faulting in fresh pages
    // (this VM maps new memory at ~100 MB/s), which is not the device's bandwidth.
    double best_copy = 0;
    for (const auto& r : rows)
      if (r.device == d.dev->id() && r.kernel == "copy" && r.error.empty()) best_copy = std::max(best_copy, r.gbps);
    for (auto& r : rows)
      if (r.device == d.dev->id()) r.copy_gbps = std::max(r.copy_gbps, best_copy);
  }
  return rows;
}

std::string bench_text(const std::vector<bench_row>& rows) {
  std::string out;
  char buf[512];
  std::snprintf(buf, sizeof buf, "%-11s %-12s %-20s %10s %10s %9s %9s %10s %8s\n", "kernel", "device", "dims", "exec ms",
                "call ms", "GB/s", "GFLOP/s", "copy GB/s", "of copy");
  out += buf;
  for (const auto& r : rows) {
    std::string dims;
    for (auto x : r.dims) dims += (dims.empty() ? "" : "x") + std::to_string(x);
    if (!r.error.empty()) {
      std::snprintf(buf, sizeof buf, "%-11s %-12s %-20s  error: %s\n", r.kernel.c_str(), r.device.c_str(), dims.c_str(),
                    r.error.c_str());
    } else {
      std::snprintf(buf, sizeof buf, "%-11s %-12s %-20s %10.3f %10.3f %9.2f %9.2f %10.2f %7.0f%%\n", r.kernel.c_str(),
                    r.device.c_str(), dims.c_str(), r.exec_ms, r.total_ms, r.gbps, r.gflops, r.copy_gbps,
                    r.copy_gbps > 0 ? 100 * r.gbps / r.copy_gbps : 0.0);
    }
    out += buf;
  }
  std::snprintf(buf, sizeof buf, "copy: %llu MiB per array (4x last-level cache %llu MiB, capped by the device's max buffer)\n",
                rows.empty() ? 0ull : static_cast<unsigned long long>(rows.front().copy_bytes >> 20),
                static_cast<unsigned long long>(last_level_cache_bytes() >> 20));
  return out + buf;
}

std::string bench_json(const std::vector<bench_row>& rows) {
  json_writer j;
  j.begin_array();
  for (const auto& r : rows) {
    j.begin_object().key("kernel").value(r.kernel).key("device").value(r.device).key("dims").begin_array();
    for (auto x : r.dims) j.value(x);
    j.end_array().key("exec_ms").value(r.exec_ms).key("call_ms").value(r.total_ms).key("gbps").value(r.gbps);
    j.key("gflops").value(r.gflops).key("copy_gbps").value(r.copy_gbps).key("copy_bytes").value(r.copy_bytes);
    j.key("error").value(r.error).end_object();
  }
  j.end_array();
  return j.str() + "\n";
}

}  // namespace ec::agent
