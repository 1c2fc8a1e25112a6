// Custom SPIR-V on lavapipe: it runs with the task's declared sizes and params; invalid code, an entry or local
// size that does not match, and oversize local sizes, dispatches or tensors are refused before any pipeline is
// created; compiled custom pipelines stay within their LRU quota.
#include <doctest/doctest.h>

#include <bit>
#include <cstring>

#include "../../../support/custom_kernel_files.hpp"
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
