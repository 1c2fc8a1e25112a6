// Custom SPIR-V on lavapipe: it runs with the task's declared sizes (1-D to 3-D) and params (4- and 8-byte, at
// std430 offsets); invalid code, an entry or local size that does not match, and oversize local sizes,
// dispatches, push constants or tensors are refused before any pipeline is created; compiled custom pipelines
// stay within their LRU quota.
#include <doctest/doctest.h>

#include <array>
#include <bit>
#include <cstring>

#include "../../../support/custom_kernel_files.hpp"
#include "push_constants.hpp"
#include "spirv_validation.hpp"
#include "vulkan_test_support.hpp"

using namespace ec;
using namespace ec::backends;
using namespace ec::backends::vulkan;

namespace vt = ec::backends::vulkan::test;

namespace {

struct scale_call {
  protocol::bytes spirv = ec::test::custom_spirv("scale");
  protocol::bytes x_data;
  custom_call call;
  explicit scale_call(std::uint64_t n = 256, float a = 3.0f) : x_data(n * 4) {
    for (std::uint64_t i = 0; i < n; ++i) {
      const float v = static_cast<float>(i);
      std::memcpy(x_data.data() + 4 * i, &v, 4);
    }
    call.code.spirv = spirv;
    call.code.entry = "main";
    call.code.local = {64, 1};
    call.code.global = {n, 1};
    call.inputs = {protocol::tensor_ref{"x", protocol::dtype::f32, {n}, x_data}};
    call.scalars = {kernels::scalar_arg{{}, kernels::scalar_kind::f32, std::bit_cast<std::uint32_t>(a)}};
    call.outputs = {kernels::output_spec{"y", protocol::dtype::f32, {n}, n * 4}};
  }
};

// tests/custom_kernels/grid3d.comp over a global size of {x, y, z} with its literal local size 4x2x2.
struct grid3d_call {
  protocol::bytes spirv = ec::test::custom_spirv("grid3d");
  custom_call call;
  std::array<std::uint64_t, 3> global;
  explicit grid3d_call(std::array<std::uint64_t, 3> size = {8, 6, 4}) : global(size) {
    call.code.spirv = spirv;
    call.code.entry = "main";
    call.code.dims = 3;
    call.code.local = {4, 2, 2};
    call.code.global = size;
    const std::uint64_t n = size[0] * size[1] * size[2];
    call.outputs = {kernels::output_spec{"y", protocol::dtype::u32, {n}, n * 4}};
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

clock::time_point soon() { return clock::now() + std::chrono::seconds(60); }

bool refused(const result<run_output>& r, error_code code, std::string_view text) {
  return !r.ok() && r.code() == code && r.err().message.find(text) != std::string::npos;
}

}  // namespace

TEST_CASE("custom SPIR-V runs on lavapipe with its declared sizes and its f32 param as a push constant") {
  auto& dev = vt::lavapipe(vt::shared_backend());
  scale_call c(256, 3.0f);
  auto out = dev.run_custom(c.call, soon());
  REQUIRE_MESSAGE(out.ok(), (out.ok() ? "" : out.err().what()));
  REQUIRE(out->outputs.size() == 1);
  const auto& y = out->outputs[0].data;
  REQUIRE(y.size() == 256 * 4);
  for (std::size_t i = 0; i < 256; i += 51) {
    float v = 0;
    std::memcpy(&v, y.data() + 4 * i, 4);
    CHECK(v == 3.0f * static_cast<float>(i));
  }
}

TEST_CASE("invalid SPIR-V is refused with the validator's message before a pipeline is created") {
  vulkan_backend b(vt::validated_options());
  auto& dev = vt::lavapipe(b);
  scale_call c;
  // Word 3 of the header is the id bound: 1 makes every id in the module out of bounds.
  c.spirv[12] = 1;
  c.spirv[13] = c.spirv[14] = c.spirv[15] = 0;
  auto r = dev.run_custom(c.call, soon());
  CHECK_MESSAGE(refused(r, error_code::invalid_argument, "SPIR-V validation failed: "), (r ? "ran" : r.err().what()));
  CHECK(dev.custom_pipelines() == 0);
  const std::uint32_t garbage[] = {0x07230203, 0x00010300, 0, 5, 0, 0xdeadbeef};
  auto direct = validate_spirv(garbage, VK_API_VERSION_1_3);
  REQUIRE_FALSE(direct.ok());
  CHECK(direct.err().message.find("SPIR-V validation failed: ") == 0);
  CHECK(direct.err().message.size() > std::string("SPIR-V validation failed: ").size() + 8);
}

TEST_CASE("custom SPIR-V without the task's entry point or with another local size is refused before compiling") {
  vulkan_backend b(vt::validated_options());
  auto& dev = vt::lavapipe(b);
  scale_call c;
  c.call.code.entry = "scale";
  CHECK(
      refused(dev.run_custom(c.call, soon()), error_code::invalid_argument, "no GLCompute entry point named 'scale'"));
  scale_call d(256);
  d.call.code.local = {32, 1};
  CHECK(refused(dev.run_custom(d.call, soon()), error_code::invalid_argument, "declares local size 64x1x1"));
  CHECK(dev.custom_pipelines() == 0);
}

TEST_CASE("an oversize custom local size, dispatch or tensor is refused on lavapipe before compiling") {
  vulkan_backend b(vt::validated_options());
  auto& dev = vt::lavapipe(b);
  const auto& limits = dev.caps().limits;
  scale_call local(64);
  local.call.code.local = {limits.maxComputeWorkGroupInvocations * 2, 1};
  local.call.code.global = {limits.maxComputeWorkGroupInvocations * 2, 1};
  CHECK(refused(dev.run_custom(local.call, soon()), error_code::unsupported, "local size"));
  scale_call dispatch(64);
  dispatch.call.code.global = {64ull * (limits.maxComputeWorkGroupCount[0] + 1ull), 1};
  CHECK(refused(dev.run_custom(dispatch.call, soon()), error_code::unsupported, "maxComputeWorkGroupCount"));
  scale_call tensor(64);
  const std::uint64_t huge = dev.caps().max_buffer_bytes / 4 + 64;
  tensor.call.outputs[0] = kernels::output_spec{"y", protocol::dtype::f32, {huge}, huge * 4};
  CHECK(refused(dev.run_custom(tensor.call, soon()), error_code::unsupported, "binds at most"));
  CHECK(dev.custom_pipelines() == 0);
}

TEST_CASE("compiled custom pipelines are bounded by their own LRU quota") {
  auto options = vt::validated_options();
  options.custom_cache_entries = 2;
  vulkan_backend b(options);
  auto& dev = vt::lavapipe(b);
  for (std::uint8_t variant = 0; variant < 4; ++variant) {
    scale_call c;
    c.spirv[8] = variant;  // the generator word: a different module (and key), equally valid
    auto r = dev.run_custom(c.call, soon());
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.err().what()));
    CHECK(r->timings.compile_us > 0);
    CHECK(dev.custom_pipelines() <= 2);
  }
  CHECK(dev.custom_pipelines() == 2);
  scale_call again;
  again.spirv[8] = 3;  // the most recent one: still compiled
  auto r = dev.run_custom(again.call, soon());
  REQUIRE(r.ok());
  CHECK(r->timings.compile_us == 0);
}

TEST_CASE("a 3-D custom SPIR-V dispatch on lavapipe computes its known function of x, y and z at every element") {
  auto& dev = vt::lavapipe(vt::shared_backend());
  grid3d_call c({8, 6, 4});  // 2 x 3 x 2 workgroups of 4x2x2
  auto out = dev.run_custom(c.call, soon());
  REQUIRE_MESSAGE(out.ok(), (out.ok() ? "" : out.err().what()));
  REQUIRE(out->outputs.size() == 1);
  const auto& y = out->outputs[0].data;
  REQUIRE(y.size() == 8 * 6 * 4 * 4);
  std::size_t wrong = 0;
  for (std::uint32_t z = 0; z < 4; ++z)
    for (std::uint32_t row = 0; row < 6; ++row)
      for (std::uint32_t x = 0; x < 8; ++x)
        if (word_at(y, x + 8 * (row + 6 * z)) != x + 1000 * row + 1000000 * z) ++wrong;
  CHECK(wrong == 0);
}

TEST_CASE("std430 push constants: a u32 followed by an f64 leaves a 4-byte gap, and the block is 8-byte aligned") {
  const double b = 1.5;
  const kernels::scalar_arg args[] = {{{}, kernels::scalar_kind::u32, 7},
                                      wide(kernels::scalar_kind::f64, std::bit_cast<std::uint64_t>(b))};
  CHECK(push_constant_bytes(args) == 16);
  const auto block = pack_push_constants(args);
  REQUIRE(block.size() == 16);
  CHECK(block[0] == 7);
  CHECK((block[4] | block[5] | block[6] | block[7]) == 0);  // the gap is zeroed
  double back = 0;
  std::memcpy(&back, block.data() + 8, 8);
  CHECK(back == b);
  const kernels::scalar_arg narrow[] = {{{}, kernels::scalar_kind::u32, 1}, {{}, kernels::scalar_kind::f32, 2}};
  CHECK(push_constant_bytes(narrow) == 8);  // 32-bit scalars pack tightly, as catalogue kernels expect
}

TEST_CASE("u32, f64, u32 and u64 params reach custom SPIR-V on lavapipe at their std430 offsets") {
  auto& dev = vt::lavapipe(vt::shared_backend());
  REQUIRE_MESSAGE(dev.caps().features.float64, "lavapipe offers shaderFloat64");
  const protocol::bytes spirv = ec::test::custom_spirv("params64");
  const double b = -2.718281828459045;
  const std::uint64_t d = 0x0123456789abcdefULL;
  custom_call call;
  call.code.spirv = spirv;
  call.code.entry = "main";
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
  CHECK(word_at(y, 6) == static_cast<std::uint32_t>(twice));  // the shader computed in double
  CHECK(word_at(y, 7) == static_cast<std::uint32_t>(twice >> 32));
}

TEST_CASE("an oversize z dispatch or z local size, or too many push-constant bytes, is refused on lavapipe first") {
  vulkan_backend b(vt::validated_options());
  auto& dev = vt::lavapipe(b);
  const auto& limits = dev.caps().limits;
  grid3d_call dispatch({4, 2, 2ull * (limits.maxComputeWorkGroupCount[2] + 1ull)});
  dispatch.call.outputs[0] = kernels::output_spec{"y", protocol::dtype::u32, {16}, 64};
  auto r = dev.run_custom(dispatch.call, soon());
  CHECK_MESSAGE(refused(r, error_code::unsupported, "workgroups in dimension 2"), (r ? "ran" : r.err().what()));
  CHECK(refused(r, error_code::unsupported, "maxComputeWorkGroupCount"));
  grid3d_call local;
  local.call.code.local = {1, 1, limits.maxComputeWorkGroupSize[2] + 1};
  local.call.code.global = {1, 1, limits.maxComputeWorkGroupSize[2] + 1ull};
  r = dev.run_custom(local.call, soon());
  CHECK_MESSAGE(
      refused(r, error_code::unsupported, "local size 1x1x" + std::to_string(limits.maxComputeWorkGroupSize[2] + 1)),
      (r ? "ran" : r.err().what()));
  grid3d_call push;
  push.call.scalars.assign(limits.maxPushConstantsSize / 8 + 1, wide(kernels::scalar_kind::u64, 1));
  r = dev.run_custom(push.call, soon());
  CHECK_MESSAGE(refused(r, error_code::unsupported, "maxPushConstantsSize"), (r ? "ran" : r.err().what()));
  CHECK(dev.custom_pipelines() == 0);
}
