// Calls the device must refuse before doing any work (sizes, local size, argument count), and deadlines: one
// already passed, and one that passes while a kernel runs (OpenCL cannot cancel it; the queue recovers once
// the kernel ends).
#include <sys/mman.h>

#include <array>
#include <bit>

#include "opencl_test_support.hpp"

namespace ec::backends::opencl::test {
namespace {

const kernels::kernel_spec& saxpy() { return *kernels::find_kernel("saxpy"); }

bound_sample saxpy_call(std::uint64_t n) {
  const std::array<std::uint64_t, 1> dims{n};
  auto b = bind_sample(saxpy(), saxpy().generate(dims, 1, kernels::sample_data::ordinary));
  REQUIRE(b.ok());
  return std::move(*b);
}

// Reserved, never touched, zero-filled pages: a real span larger than the device's largest buffer without
// using that much memory.
struct huge_mapping {
  void* base = MAP_FAILED;
  std::size_t size = 0;
  explicit huge_mapping(std::size_t bytes) : size(bytes) {
    base = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  }
  ~huge_mapping() {
    if (base != MAP_FAILED) ::munmap(base, size);
  }
  huge_mapping(const huge_mapping&) = delete;
  huge_mapping& operator=(const huge_mapping&) = delete;
};

// Spins on a loop-carried dependency for `n` iterations; one work-item, so the time is predictable-ish.
constexpr std::string_view slow_source = R"(
__kernel void slow(__global const float* x, __global float* y, uint n) {
  float acc = x[0];
  for (uint i = 0; i < n; ++i) acc = acc * 0.999999f + x[i & 3u];
  y[0] = acc;
}
)";
constexpr kernels::tensor_spec slow_inputs[] = {{"x", protocol::dtype::f32, "[4]"}};
constexpr kernels::tensor_spec slow_outputs[] = {{"y", protocol::dtype::f32, "[1]"}};
constexpr std::string_view slow_scalars[] = {"n"};

kernels::kernel_spec slow_spec() {
  kernels::kernel_spec s;
  s.name = "slow";
  s.inputs = slow_inputs;
  s.outputs = slow_outputs;
  s.scalar_names = slow_scalars;
  s.local = {1, 1};
  s.opencl_source = slow_source;
  return s;
}

}  // namespace

TEST_CASE("an input above max_buffer_bytes is refused as unsupported, naming the tensor and the limit") {
  auto& dev = pocl_device();
  const std::uint64_t limit = dev.info().max_buffer_bytes;
  huge_mapping big(limit + 4);
  REQUIRE(big.base != MAP_FAILED);
  auto b = saxpy_call(16);
  b.call.inputs[0].data = {static_cast<const std::uint8_t*>(big.base), limit + 4};
  auto out = dev.run(b.call, far_deadline());
  REQUIRE_FALSE(out.ok());
  CHECK(out.code() == error_code::unsupported);
  CHECK(out.err().message.find("'x'") != std::string::npos);
  CHECK(out.err().message.find(std::to_string(limit)) != std::string::npos);
}

TEST_CASE("an output above max_buffer_bytes is refused before anything is allocated") {
  auto& dev = pocl_device();
  auto b = saxpy_call(16);
  b.call.outputs[0].bytes = dev.info().max_buffer_bytes + 1;
  auto out = dev.run(b.call, far_deadline());
  REQUIRE_FALSE(out.ok());
  CHECK(out.code() == error_code::unsupported);
  CHECK(out.err().message.find("'z'") != std::string::npos);
}

TEST_CASE("a local size above the device's workgroup limit is unsupported") {
  auto& dev = pocl_device();
  auto spec = saxpy();
  spec.local = {dev.info().max_workgroup_size * 2, 1};
  CHECK_FALSE(dev.supports(spec));
  auto b = saxpy_call(16);
  b.call.spec = &spec;
  auto out = dev.run(b.call, far_deadline());
  REQUIRE_FALSE(out.ok());
  CHECK(out.code() == error_code::unsupported);
  CHECK(out.err().message.find("CL_DEVICE_MAX_WORK_GROUP_SIZE") != std::string::npos);
}

TEST_CASE("a call whose arguments do not match the kernel is refused") {
  auto& dev = pocl_device();
  auto b = saxpy_call(16);
  b.call.scalars.pop_back();
  auto out = dev.run(b.call, far_deadline());
  REQUIRE_FALSE(out.ok());
  CHECK(out.code() == error_code::invalid_argument);
}

TEST_CASE("a source that does not compile returns the build log") {
  auto& dev = pocl_device();
  auto spec = saxpy();
  spec.opencl_source = "__kernel void saxpy(__global float* x) { this is not C; }";
  auto b = saxpy_call(16);
  b.call.spec = &spec;
  auto out = dev.run(b.call, far_deadline());
  REQUIRE_FALSE(out.ok());
  CHECK(out.code() == error_code::device_error);
  CHECK(out.err().message.find("CL_BUILD_PROGRAM_FAILURE") != std::string::npos);
  CHECK(out.err().message.find("build log") != std::string::npos);
  CHECK(out.err().message.size() < max_build_log_chars + 400);
}

TEST_CASE("a deadline already passed is a timeout") {
  auto& dev = pocl_device();
  const auto b = saxpy_call(1000);
  auto out = dev.run(b.call, clock::now() - std::chrono::milliseconds(1));
  REQUIRE_FALSE(out.ok());
  CHECK(out.code() == error_code::timeout);
}

TEST_CASE("a deadline passing while a kernel runs is a timeout, and the device works again afterwards") {
  // A backend of its own: the abandoned kernel keeps its queue busy until it ends.
  opencl_backend backend{backend_options{}};
  auto& dev = pocl_device(backend);
  const auto spec = slow_spec();
  const std::vector<float> x{1, 2, 3, 4};
  const std::vector<std::uint8_t> x_bytes(reinterpret_cast<const std::uint8_t*>(x.data()),
                                          reinterpret_cast<const std::uint8_t*>(x.data()) + 16);
  kernels::bound_call call;
  call.spec = &spec;
  call.inputs = {{"x", protocol::dtype::f32, {4}, x_bytes}};
  call.outputs = {{"y", protocol::dtype::f32, {1}, 4}};
  call.groups = {1, 1};

  // Calibrate: compile, then time a short run to size one that takes about a second.
  call.scalars = {{"n", kernels::scalar_kind::u32, 1u << 20}};
  REQUIRE(dev.run(call, far_deadline()).ok());
  auto start = clock::now();
  REQUIRE(dev.run(call, far_deadline()).ok());
  const double per_iter_s = std::chrono::duration<double>(clock::now() - start).count() / double(1u << 20);
  const auto n =
      static_cast<std::uint32_t>(std::min(4.0e9, std::max(double(1u << 22), 1.0 / std::max(per_iter_s, 1e-12))));
  call.scalars = {{"n", kernels::scalar_kind::u32, n}};

  start = clock::now();
  auto out = dev.run(call, clock::now() + std::chrono::milliseconds(50));
  const auto waited = clock::now() - start;
  REQUIRE_FALSE(out.ok());
  CHECK(out.code() == error_code::timeout);
  CHECK(waited < std::chrono::milliseconds(400));  // returned at the deadline, not when the kernel ended

  // The next run waits behind the abandoned kernel in the in-order queue, then completes.
  call.scalars = {{"n", kernels::scalar_kind::u32, 16}};
  auto again = dev.run(call, far_deadline());
  INFO((again ? std::string() : again.err().what()));
  REQUIRE(again.ok());
  CHECK(again->outputs[0].data.size() == 4);
}

}  // namespace ec::backends::opencl::test
