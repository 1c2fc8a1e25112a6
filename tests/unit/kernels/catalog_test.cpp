// Properties every catalogue entry must have: GPU code present and well-formed, known answers that match the
// reference, deterministic generators, and references whose bytes do not depend on the thread split.
#include <map>

#include "kernel_test_support.hpp"

namespace ec::kernels::test {
namespace {

// Small dims per kernel, chosen to be primes or non-multiples of the workgroup and register blocks.
std::vector<std::uint64_t> small_dims(std::string_view name) {
  static const std::map<std::string_view, std::vector<std::uint64_t>> dims{
      {"saxpy", {1001}},        {"sgemm", {37, 53, 29}}, {"reduce_sum", {13, 1031}},
      {"mandelbrot", {37, 23}}, {"sha256", {67, 55}},    {"histogram", {70001, 300}},
      {"copy", {1001}}};
  const auto it = dims.find(name);
  REQUIRE(it != dims.end());
  return it->second;
}

TEST_CASE("the catalogue lists saxpy, sgemm, reduce_sum, mandelbrot, sha256, histogram and copy in that order") {
  std::vector<std::string_view> names;
  for (const auto* k : catalog()) names.push_back(k->name);
  CHECK(names == std::vector<std::string_view>{"saxpy", "sgemm", "reduce_sum", "mandelbrot", "sha256", "histogram",
                                                      "copy"});
  for (const auto* k : catalog()) CHECK(find_kernel(k->name) == k);
  CHECK(find_kernel("sgemm2") == nullptr);
}

TEST_CASE("every catalogue entry's SPIR-V starts with the magic number 0x07230203") {
  for (const auto* k : catalog()) {
    CAPTURE(k->name);
    REQUIRE(k->spirv.size() > 5);
    CHECK(k->spirv[0] == 0x07230203u);
  }
}

TEST_CASE("every catalogue entry's OpenCL source declares __kernel void <name>( and its GLSL is version 450") {
  for (const auto* k : catalog()) {
    CAPTURE(k->name);
    CHECK(k->opencl_source.find("__kernel void " + std::string(k->name) + "(") != std::string_view::npos);
    CHECK(k->glsl_source.find("#version 450") != std::string_view::npos);
    CHECK(k->glsl_source.find("local_size_x_id = 0, local_size_y_id = 1") != std::string_view::npos);
  }
}

TEST_CASE("every catalogue entry's known answer binds and its reference reproduces the expected outputs") {
  for (const auto* k : catalog()) {
    CAPTURE(k->name);
    const sample s = k->known_answer();
    REQUIRE_FALSE(s.expected.empty());
    const auto got = run(*k, s);
    CHECK(agree(*k, got, s.expected));
    if (k->validation == validation_mode::exact) CHECK(got == s.expected);
  }
}

TEST_CASE("every catalogue entry binds scalars named and ordered as its scalar_names") {
  for (const auto* k : catalog()) {
    CAPTURE(k->name);
    auto c = bind(*k, k->known_answer());
    REQUIRE(c.ok());
    REQUIRE(c->scalars.size() == k->scalar_names.size());
    for (std::size_t i = 0; i < c->scalars.size(); ++i) CHECK(c->scalars[i].name == k->scalar_names[i]);
    CHECK(c->inputs.size() == k->inputs.size());
    CHECK(c->outputs.size() == k->outputs.size());
    CHECK(c->groups[0] >= 1);
    CHECK(c->groups[1] >= 1);
    CHECK(c->bytes_moved > 0);
  }
}

TEST_CASE("every catalogue entry refuses an unknown param and an unknown input tensor by name") {
  for (const auto* k : catalog()) {
    CAPTURE(k->name);
    sample s = k->known_answer();
    s.params.push_back(f32_param("bogus", 1));
    CHECK(bind_error(*k, s).find("unknown param 'bogus'") != std::string::npos);
    s = k->known_answer();
    s.inputs.push_back(abi_tensor_f32("extra"));
    CHECK(bind_error(*k, s).find("unknown input tensor 'extra'") != std::string::npos);
  }
}

TEST_CASE("every catalogue entry generates the same sample for the same seed and a different one for another") {
  for (const auto* k : catalog()) {
    for (auto data : {sample_data::ordinary, sample_data::adversarial}) {
      CAPTURE(k->name);
      const auto dims = small_dims(k->name);
      REQUIRE(dims.size() == k->dims_count);
      const sample a = k->generate(dims, 7, data), b = k->generate(dims, 7, data), c = k->generate(dims, 8, data);
      CHECK(a.params == b.params);
      CHECK(a.inputs == b.inputs);
      if (!a.inputs.empty()) CHECK(a.inputs != c.inputs);
      CHECK(bind(*k, a).ok());
    }
  }
}

TEST_CASE("every catalogue entry's reference gives identical bytes under serial, uneven and lopsided splits") {
  for (const auto* k : catalog()) {
    for (auto data : {sample_data::ordinary, sample_data::adversarial}) {
      CAPTURE(k->name);
      const sample s = k->generate(small_dims(k->name), 3, data);
      const auto serial = run(*k, s);
      CHECK(run(*k, s, uneven_for) == serial);
      CHECK(run(*k, s, lopsided_for) == serial);
    }
  }
}

TEST_CASE("every catalogue entry has a distinct kernel hash") {
  std::vector<std::array<std::uint8_t, 32>> hashes;
  for (const auto* k : catalog()) hashes.push_back(kernel_hash(*k));
  for (std::size_t i = 0; i < hashes.size(); ++i)
    for (std::size_t j = i + 1; j < hashes.size(); ++j) CHECK(hashes[i] != hashes[j]);
}

}  // namespace
}  // namespace ec::kernels::test
