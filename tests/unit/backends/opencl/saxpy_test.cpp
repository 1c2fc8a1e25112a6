// saxpy on PoCL against the C++ reference and the known answer, including sizes that are not multiples of
// the workgroup and the empty input.
#include <array>
#include <atomic>
#include <bit>
#include <thread>

#include "opencl_test_support.hpp"

namespace ec::backends::opencl::test {
namespace {

const kernels::kernel_spec& saxpy() { return *kernels::find_kernel("saxpy"); }

bound_sample saxpy_call(std::uint64_t n, std::uint64_t seed = 7) {
  const std::array<std::uint64_t, 1> dims{n};
  auto b = bind_sample(saxpy(), saxpy().generate(dims, seed, kernels::sample_data::ordinary));
  REQUIRE(b.ok());
  return std::move(*b);
}

}  // namespace

TEST_CASE("saxpy matches the reference for sizes around the workgroup and a large odd size") {
  auto& dev = pocl_device();
  for (const std::uint64_t n : {1ull, 255ull, 256ull, 257ull, 1000003ull}) {
    INFO("n = " << n);
    const auto b = saxpy_call(n);
    const auto out = run_and_check(dev, b.call);
    CHECK(out.outputs[0].shape == std::vector<std::uint64_t>{n});
  }
}

TEST_CASE("saxpy reproduces its known answer") {
  auto& dev = pocl_device();
  auto ka = saxpy().known_answer();
  const auto expected = ka.expected;
  auto b = bind_sample(saxpy(), std::move(ka));
  REQUIRE(b.ok());
  auto out = dev.run(b->call, far_deadline());
  REQUIRE(out.ok());
  CHECK(compare_outputs(saxpy(), out->outputs, expected).empty());
}

TEST_CASE("adversarial saxpy inputs (NaN, inf, denormals) match the reference") {
  auto& dev = pocl_device();
  const std::array<std::uint64_t, 1> dims{4099};
  auto b = bind_sample(saxpy(), saxpy().generate(dims, 3, kernels::sample_data::adversarial));
  REQUIRE(b.ok());
  run_and_check(dev, b->call);
}

TEST_CASE("zero-size saxpy runs on a minimal buffer and returns an empty output") {
  auto& dev = pocl_device();
  const auto b = saxpy_call(0);
  auto out = dev.run(b.call, far_deadline());
  INFO((out ? std::string() : out.err().what()));
  REQUIRE(out.ok());
  REQUIRE(out->outputs.size() == 1);
  CHECK(out->outputs[0].data.empty());
  CHECK(out->outputs[0].shape == std::vector<std::uint64_t>{0});
}

TEST_CASE("a grid larger than the launch cap is still covered by the grid-stride loop") {
  auto& dev = pocl_device();
  auto b = saxpy_call(1000003);
  b.call.groups = {3, 1};  // far fewer groups than elements / 256: the kernel must loop
  run_and_check(dev, b.call);
  b.call.groups = {1u << 20, 1};  // more than max_groups_per_dim: clamped
  run_and_check(dev, b.call);
}

TEST_CASE("concurrent runs on one device are serialized and all correct") {
  auto& dev = pocl_device();
  const auto a = saxpy_call(70001, 1);
  const auto b = saxpy_call(3001, 2);
  const auto want_a = kernels::run_reference(a.call);
  const auto want_b = kernels::run_reference(b.call);
  std::atomic<int> failures{0};
  const auto worker = [&](const kernels::bound_call& call, const std::vector<protocol::tensor>& want) {
    for (int i = 0; i < 6; ++i) {
      auto out = dev.run(call, far_deadline());
      if (!out || !compare_outputs(saxpy(), out->outputs, want).empty()) ++failures;
    }
  };
  std::thread t1(worker, std::cref(a.call), std::cref(want_a));
  std::thread t2(worker, std::cref(b.call), std::cref(want_b));
  t1.join();
  t2.join();
  CHECK(failures.load() == 0);
}

TEST_CASE("saxpy throughput for n = 16M is reported") {
  auto& dev = pocl_device();
  const auto b = saxpy_call(16u << 20);
  run_and_check(dev, b.call);  // warm-up: PoCL compiles the work-group function on the first launch
  double best = 0;
  run_timings t{};
  for (int i = 0; i < 3; ++i) {
    auto out = dev.run(b.call, far_deadline());
    REQUIRE(out.ok());
    const double gbps = static_cast<double>(b.call.bytes_moved) / 1e3 /
                        static_cast<double>(std::max<std::uint64_t>(out->timings.exec_us, 1));
    if (gbps > best) {
      best = gbps;
      t = out->timings;
    }
  }
  MESSAGE("saxpy n=16M on " << dev.info().name << ": " << best << " GB/s (exec " << t.exec_us << " us, upload "
                            << t.upload_us << " us, download " << t.download_us << " us)");
  CHECK(best > 0.1);
  CHECK(t.exec_us > 0);
}

}  // namespace ec::backends::opencl::test
