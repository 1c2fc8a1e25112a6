// The staging path (device-local buffers filled and drained by copy commands), which discrete GPUs take:
// lavapipe can map its memory, so the path is forced here to keep it tested on every machine.
#include <doctest/doctest.h>

#include "ec/kernels/catalog.hpp"
#include "vulkan_test_support.hpp"

using namespace ec;
using namespace ec::backends::vulkan;
using namespace ec::backends::vulkan::test;

TEST_CASE("through staging buffers, saxpy and every supported catalogue kernel match their references") {
  vulkan_backend b(validated_options(), vulkan_tuning{.force_staging = true});
  auto& d = lavapipe(b);
  REQUIRE_FALSE(d.maps_memory());
  const auto& saxpy = *kernels::find_kernel("saxpy");
  for (const std::uint64_t n : {0ull, 1ull, 257ull, 1000003ull}) {
    CAPTURE(n);
    const std::vector<std::uint64_t> dims{n};
    const auto s = saxpy.generate(dims, n, kernels::sample_data::ordinary);
    const auto call = bind(saxpy, s);
    for (int repeat = 0; repeat < 2; ++repeat)  // the second run reuses pooled buffers: no stale data may leak
      check_outputs(saxpy, run_ok(d, call).outputs, kernels::run_reference(call));
  }
  for (const auto* k : kernels::catalog()) {
    CAPTURE(k->name);
    if (!d.supports(*k)) continue;
    const std::vector<std::uint64_t> dims(k->dims_count, 33);
    const auto s = k->generate(dims, 9, kernels::sample_data::ordinary);
    const auto call = bind(*k, s);
    check_outputs(*k, run_ok(d, call).outputs, kernels::run_reference(call));
  }
}
