// Every kernel of the catalogue against its C++ reference on a small generated input, so each kernel that
// lands with an OpenCL C source is covered here without a test of its own.
#include <array>

#include "opencl_test_support.hpp"

namespace ec::backends::opencl::test {
namespace {

// The same small size in every dimension; a kernel whose rules refuse one (a multiple of 64, a power of two)
// gets the next candidate.
std::optional<bound_sample> small_call(const kernels::kernel_spec& spec, std::uint64_t seed,
                                       kernels::sample_data data) {
  for (const std::uint64_t size : {64ull, 32ull, 16ull, 128ull, 256ull, 1000ull, 1ull}) {
    const std::vector<std::uint64_t> dims(spec.dims_count, size);
    auto b = bind_sample(spec, spec.generate(dims, seed, data));
    if (b) return std::move(*b);
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("every catalogue kernel matches its reference on PoCL") {
  auto& dev = pocl_device();
  REQUIRE_FALSE(kernels::catalog().empty());
  std::string covered;
  for (const auto* spec : kernels::catalog()) {
    INFO("kernel " << spec->name);
    if (spec->opencl_source.empty()) continue;  // a kernel without OpenCL C is not this backend's
    covered += " " + std::string(spec->name);
    REQUIRE(static_cast<bool>(spec->generate));
    for (const auto data : {kernels::sample_data::ordinary, kernels::sample_data::adversarial}) {
      auto b = small_call(*spec, 42, data);
      REQUIRE_MESSAGE(b.has_value(), "no small size binds");
      run_and_check(dev, b->call);
    }
  }
  MESSAGE("kernels checked on PoCL:" << covered);
}

TEST_CASE("every catalogue kernel reproduces its known answer on PoCL") {
  auto& dev = pocl_device();
  for (const auto* spec : kernels::catalog()) {
    INFO("kernel " << spec->name);
    if (spec->opencl_source.empty() || !spec->known_answer) continue;
    auto ka = spec->known_answer();
    const auto expected = ka.expected;
    auto b = bind_sample(*spec, std::move(ka));
    REQUIRE(b.ok());
    auto out = dev.run(b->call, far_deadline());
    REQUIRE_MESSAGE(out.ok(), (out ? std::string() : out.err().what()));
    if (!expected.empty()) CHECK_MESSAGE(compare_outputs(*spec, out->outputs, expected).empty(), spec->name);
    CHECK(compare_outputs(*spec, out->outputs, kernels::run_reference(b->call)).empty());
  }
}

}  // namespace ec::backends::opencl::test
