// CPU device: identity from /proc/cpuinfo and sysconf, runs through the thread pool with chunk-level deadlines.
#include "cpu_backend.hpp"

#include <unistd.h>

#include <bit>
#include <fstream>
#include <string>
#include <thread>

#if defined(EC_WITH_BLAS)
#include <cblas.h>
#endif

namespace ec::backends::cpu {
namespace {

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  // x86 says "model name"; Arm kernels often give only "CPU part" lines, hence the fallbacks.
  for (const char* key : {"model name", "Model", "Hardware"}) {
    in.clear();
    in.seekg(0);
    while (std::getline(in, line)) {
      if (line.rfind(key, 0) == 0) {
        const auto colon = line.find(':');
        if (colon != std::string::npos && colon + 2 <= line.size()) return line.substr(colon + 2);
      }
    }
  }
  return "CPU";
}

std::uint64_t physical_memory() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), size = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && size > 0 ? static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(size) : 0;
}

std::uint64_t elapsed_us(clock::time_point since) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - since).count());
}

}  // namespace

cpu_device::cpu_device(unsigned threads) : pool_(threads) {
  info_.backend = "cpu";
  info_.name = cpu_model_name();
  info_.driver = "edgecompute reference kernels, " + std::to_string(pool_.size()) + " threads";
  info_.type = protocol::device_type::cpu;
  info_.memory_bytes = physical_memory();
  info_.max_buffer_bytes = info_.memory_bytes;
  info_.max_workgroup_size = 1;
  info_.fp64 = true;
  info_.int8 = true;
}

bool cpu_device::supports(const kernels::kernel_spec& kernel) const { return kernel.reference != nullptr; }

#if defined(EC_WITH_BLAS)
// sgemm through OpenBLAS, one cblas call per block of rows so that our idle-priority pool and its deadline
// checks still drive the work (OpenBLAS's own threads are turned off). Other kernels use the reference.
static bool run_with_blas(const kernels::bound_call& call, std::span<std::span<std::byte>> out,
                          const kernels::parallel_for& pf) {
  if (call.spec->name != "sgemm") return false;
  static const bool single_threaded = [] {
    openblas_set_num_threads(1);
    return true;
  }();
  (void)single_threaded;
  const auto m = call.scalars[0].bits, n = call.scalars[1].bits, k = call.scalars[2].bits;
  const float alpha = std::bit_cast<float>(call.scalars[3].bits);
  const auto* a = reinterpret_cast<const float*>(call.inputs[0].data.data());
  const auto* b = reinterpret_cast<const float*>(call.inputs[1].data.data());
  auto* c = reinterpret_cast<float*>(out[0].data());
  pf(m, [&](std::uint64_t begin, std::uint64_t end) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(end - begin), static_cast<int>(n),
                static_cast<int>(k), alpha, a + begin * k, static_cast<int>(k), b, static_cast<int>(n), 0.0f,
                c + begin * n, static_cast<int>(n));
  });
  return true;
}
#else
static bool run_with_blas(const kernels::bound_call&, std::span<std::span<std::byte>>, const kernels::parallel_for&) {
  return false;
}
#endif

result<run_output> cpu_device::run(const kernels::bound_call& call, clock::time_point deadline) {
  if (!call.spec || !call.spec->reference) return fail(error_code::invalid_argument, "unbound call");
  for (const auto& o : call.outputs)
    if (o.bytes > info_.max_buffer_bytes)
      return fail(error_code::unsupported,
                  "output '" + o.name + "' (" + std::to_string(o.bytes) + " bytes) exceeds the host memory");
  if (clock::now() >= deadline) return fail(error_code::timeout, "deadline passed before the run started");
  run_output out;
  auto start = clock::now();
  out.outputs.reserve(call.outputs.size());
  std::vector<std::span<std::byte>> spans;
  try {
    for (const auto& o : call.outputs) out.outputs.push_back({o.name, o.type, o.shape, protocol::bytes(o.bytes)});
  } catch (const std::bad_alloc&) {
    return fail(error_code::out_of_memory, "cannot allocate the outputs");
  }
  for (auto& t : out.outputs) spans.emplace_back(reinterpret_cast<std::byte*>(t.data.data()), t.data.size());
  out.timings.upload_us = elapsed_us(start);

  start = clock::now();
  bool finished = true;
  const std::function<bool()> keep_going = [&] { return clock::now() < deadline; };
  const kernels::parallel_for pf = [&](std::uint64_t count,
                                       const std::function<void(std::uint64_t, std::uint64_t)>& body) {
    finished = pool_.parallel_for(count, body, keep_going) && finished;
  };
  if (!run_with_blas(call, spans, pf)) call.spec->reference(call, spans, pf);
  out.timings.exec_us = elapsed_us(start);
  if (!finished) return fail(error_code::timeout, "deadline passed while running " + std::string(call.spec->name));
  return out;
}

cpu_backend::cpu_backend(const backend_options& options) : device_(options.cpu_threads) {}

}  // namespace ec::backends::cpu
