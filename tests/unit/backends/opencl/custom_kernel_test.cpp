// Custom OpenCL C on PoCL: it runs with the task's declared sizes (1-D to 3-D) and params (4- and 8-byte scalar
// arguments); oversize local sizes, dispatches and tensors are refused before the build; local memory is checked after
// the build and before the enqueue; custom programs never reach the disk cache and stay within their LRU quota.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

#include "../../../support/custom_kernel_files.hpp"
#include "opencl_test_support.hpp"

using namespace ec;
using namespace ec::backends;
using namespace ec::backends::opencl;

namespace ot = ec::backends::opencl::test;

namespace {

struct scale_call {
  std::string source = ec::test::custom_opencl("scale");
  std::string entry = "scale";
  protocol::bytes x_data;
  custom_call call;
  explicit scale_call(std::uint64_t n = 256, float a = 3.0f) : x_data(n * 4) {
    for (std::uint64_t i = 0; i < n; ++i) {
      const float v = static_cast<float>(i);
      std::memcpy(x_data.data() + 4 * i, &v, 4);
    }
    call.code.opencl_c = source;
    call.code.entry = entry;
    call.code.local = {64, 1};
    call.code.global = {n, 1};
    call.inputs = {protocol::tensor_ref{"x", protocol::dtype::f32, {n}, x_data}};
    call.scalars = {kernels::scalar_arg{{}, kernels::scalar_kind::f32, std::bit_cast<std::uint32_t>(a)}};
    call.outputs = {kernels::output_spec{"y", protocol::dtype::f32, {n}, n * 4}};
  }
};

kernels::scalar_arg wide(kernels::scalar_kind kind, std::uint64_t bits) {
  return {{}, kind, static_cast<std::uint32_t>(bits), static_cast<std::uint32_t>(bits >> 32)};
}

std::uint32_t word_at(const protocol::bytes& data, std::size_t i) {
  std::uint32_t v = 0;
  std::memcpy(&v, data.data() + 4 * i, 4);
  return v;
}

// tests/custom_kernels/grid3d.cl over a global size of {x, y, z} with local size 4x2x2.
struct grid3d_call {
  std::string source = ec::test::custom_opencl("grid3d");
  custom_call call;
  explicit grid3d_call(std::array<std::uint64_t, 3> size = {8, 6, 4}) {
    call.code.opencl_c = source;
    call.code.entry = "grid3d";
    call.code.dims = 3;
    call.code.local = {4, 2, 2};
    call.code.global = size;
    const std::uint64_t n = std::min<std::uint64_t>(size[0] * size[1] * size[2], 1 << 20);
    call.outputs = {kernels::output_spec{"y", protocol::dtype::u32, {n}, n * 4}};
  }
};

clock::time_point soon() { return clock::now() + std::chrono::seconds(60); }

bool refused(const result<run_output>& r, error_code code, std::string_view text) {
  return !r.ok() && r.code() == code && r.err().message.find(text) != std::string::npos;
}

}  // namespace

TEST_CASE("custom OpenCL C runs on PoCL with its declared sizes and its f32 param as a scalar argument") {
  auto& dev = ot::pocl_device();
  scale_call c(256, 3.0f);
  auto out = dev.run_custom(c.call, soon());
  REQUIRE_MESSAGE(out.ok(), (out.ok() ? "" : out.err().what()));
  REQUIRE(out->outputs.size() == 1);
  for (std::size_t i = 0; i < 256; i += 51) {
    float v = 0;
    std::memcpy(&v, out->outputs[0].data.data() + 4 * i, 4);
    CHECK(v == 3.0f * static_cast<float>(i));
  }
}

TEST_CASE("an oversize custom local size, dispatch or tensor is refused on PoCL before the build") {
  ot::temp_dir cache("custom-limits");
  opencl_backend b(backend_options{cache.path(), 64ull << 20, false, 0, 4});
  auto& dev = ot::pocl_device(b);
  const auto builds = dev.stats().source_builds;
  const auto max_group = dev.info().max_workgroup_size;
  scale_call local(64);
  local.call.code.local = {max_group * 2, 1};
  local.call.code.global = {max_group * 2ull, 1};
  CHECK(refused(dev.run_custom(local.call, soon()), error_code::unsupported, "CL_DEVICE_MAX_WORK_GROUP_SIZE"));
  scale_call dispatch(64);
  dispatch.call.code.global = {64ull * (max_groups_per_dim + 1), 1};
  CHECK(refused(dev.run_custom(dispatch.call, soon()), error_code::unsupported, "workgroups in dimension 0"));
  scale_call tensor(64);
  const std::uint64_t huge = dev.info().max_buffer_bytes / 4 + 64;
  tensor.call.outputs[0] = kernels::output_spec{"y", protocol::dtype::f32, {huge}, huge * 4};
  CHECK(refused(dev.run_custom(tensor.call, soon()), error_code::unsupported, "CL_DEVICE_MAX_MEM_ALLOC_SIZE"));
  CHECK(dev.stats().source_builds == builds);
  CHECK(dev.custom_programs() == 0);
}

TEST_CASE(
    "custom OpenCL C using more local memory than the device has is refused after the build, before the enqueue") {
  auto& dev = ot::pocl_device();
  scale_call c(64);
  c.source = ec::test::custom_opencl("local_hog");
  c.entry = "local_hog";
  c.call.code.opencl_c = c.source;
  c.call.code.entry = c.entry;
  c.call.scalars.clear();
  auto r = dev.run_custom(c.call, soon());
  // PoCL builds it (its __local arrays are not limited at build time): the check after the build refuses it.
  REQUIRE_FALSE(r.ok());
  CHECK(r.code() == error_code::unsupported);
  CHECK_MESSAGE(r.err().message.find("needs 1048576 bytes of local memory") != std::string::npos, r.err().what());
}

TEST_CASE("custom OpenCL programs stay out of the disk cache and within their LRU quota") {
  ot::temp_dir cache("custom-lru");
  opencl_backend b(backend_options{cache.path(), 64ull << 20, false, 0, 2});
  auto& dev = ot::pocl_device(b);
  for (int variant = 0; variant < 4; ++variant) {
    scale_call c;
    c.source += "\n// variant " + std::to_string(variant) + "\n";
    c.call.code.opencl_c = c.source;
    auto r = dev.run_custom(c.call, soon());
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.err().what()));
    CHECK(dev.custom_programs() <= 2);
  }
  CHECK(dev.custom_programs() == 2);
  std::size_t files = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(cache.path()))
    if (e.is_regular_file()) ++files;
  CHECK(files == 0);
}

TEST_CASE("custom compile time counts against the deadline: a build longer than the budget is a timeout") {
  auto& dev = ot::pocl_device();
  scale_call c;
  c.source += "\n// deadline variant\n";  // not built in this process: even PoCL's warm build takes 25-35 ms
  c.call.code.opencl_c = c.source;
  auto r = dev.run_custom(c.call, clock::now() + std::chrono::milliseconds(5));
  CHECK_MESSAGE(refused(r, error_code::timeout, "deadline passed while building"), (r ? "ran" : r.err().what()));
}

TEST_CASE("a 3-D custom OpenCL NDRange on PoCL computes its known function of x, y and z at every element") {
  auto& dev = ot::pocl_device();
  grid3d_call c({8, 6, 4});
  auto out = dev.run_custom(c.call, soon());
  REQUIRE_MESSAGE(out.ok(), (out.ok() ? "" : out.err().what()));
  const auto& y = out->outputs.at(0).data;
  REQUIRE(y.size() == 8 * 6 * 4 * 4);
  std::size_t wrong = 0;
  for (std::uint32_t z = 0; z < 4; ++z)
    for (std::uint32_t row = 0; row < 6; ++row)
      for (std::uint32_t x = 0; x < 8; ++x)
        if (word_at(y, x + 8 * (row + 6 * z)) != x + 1000 * row + 1000000 * z) ++wrong;
  CHECK(wrong == 0);
}

TEST_CASE("u32, f64, u32 and u64 params reach custom OpenCL C on PoCL as 4- and 8-byte scalar arguments") {
  auto& dev = ot::pocl_device();
  REQUIRE_MESSAGE(dev.info().fp64, "PoCL offers cl_khr_fp64");
  const std::string source = ec::test::custom_opencl("params64");
  const double b = -2.718281828459045;
  const std::uint64_t d = 0x0123456789abcdefULL;
  custom_call call;
  call.code.opencl_c = source;
  call.code.entry = "params64";
  call.code.local = {1};
  call.code.global = {1};
  call.scalars = {{{}, kernels::scalar_kind::u32, 0xa1a2a3a4u},
                  wide(kernels::scalar_kind::f64, std::bit_cast<std::uint64_t>(b)),
                  {{}, kernels::scalar_kind::u32, 0xc1c2c3c4u},
                  wide(kernels::scalar_kind::u64, d)};
  call.outputs = {kernels::output_spec{"y", protocol::dtype::u32, {8}, 32}};
  auto out = dev.run_custom(call, soon());
  REQUIRE_MESSAGE(out.ok(), (out.ok() ? "" : out.err().what()));
  const auto& y = out->outputs.at(0).data;
  REQUIRE(y.size() == 32);
  const auto b_bits = std::bit_cast<std::uint64_t>(b), twice = std::bit_cast<std::uint64_t>(2 * b);
  CHECK(word_at(y, 0) == 0xa1a2a3a4u);
  CHECK(word_at(y, 1) == static_cast<std::uint32_t>(b_bits));
  CHECK(word_at(y, 2) == static_cast<std::uint32_t>(b_bits >> 32));
  CHECK(word_at(y, 3) == 0xc1c2c3c4u);
  CHECK(word_at(y, 4) == 0x89abcdefu);
  CHECK(word_at(y, 5) == 0x01234567u);
  CHECK(word_at(y, 6) == static_cast<std::uint32_t>(twice));  // the kernel computed in double
  CHECK(word_at(y, 7) == static_cast<std::uint32_t>(twice >> 32));
}

TEST_CASE("an oversize z dispatch or z local size is refused on PoCL before the build") {
  ot::temp_dir cache("custom-z");
  opencl_backend b(backend_options{cache.path(), 64ull << 20, false, 0, 4});
  auto& dev = ot::pocl_device(b);
  const auto builds = dev.stats().source_builds;
  grid3d_call dispatch({4, 2, 2 * (max_groups_per_dim + 1)});
  auto r = dev.run_custom(dispatch.call, soon());
  CHECK_MESSAGE(refused(r, error_code::unsupported, "workgroups in dimension 2"), (r ? "ran" : r.err().what()));
  const auto too_deep = dev.info().max_workgroup_size + 1ull;
  grid3d_call local;
  local.call.code.local = {1, 1, static_cast<std::uint32_t>(too_deep)};
  local.call.code.global = {1, 1, too_deep};
  r = dev.run_custom(local.call, soon());
  CHECK_MESSAGE(refused(r, error_code::unsupported, "local size 1x1x" + std::to_string(too_deep)),
                (r ? "ran" : r.err().what()));
  CHECK(dev.stats().source_builds == builds);
  CHECK(dev.custom_programs() == 0);
}
