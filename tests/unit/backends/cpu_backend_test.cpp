// The CPU backend runs catalogue kernels through the reference, and honours deadlines.
#include <doctest/doctest.h>

#include "ec/backends/calibration.hpp"
#include "ec/backends/registry.hpp"
#include "ec/kernels/catalog.hpp"

using namespace ec;
using namespace std::chrono_literals;

namespace {

backends::device& cpu_device(std::unique_ptr<backends::backend>& keep) {
  keep = backends::make_cpu_backend({});
  return *keep->devices().front();
}

}  // namespace

TEST_CASE("the CPU device passes the self-test of every catalogue kernel") {
  std::unique_ptr<backends::backend> keep;
  auto& dev = cpu_device(keep);
  CHECK(dev.info().type == protocol::device_type::cpu);
  CHECK(dev.info().memory_bytes > 0);
  for (const auto* k : kernels::catalog()) {
    const auto r = backends::self_test(dev, *k);
    CHECK_MESSAGE(r.passed, k->name << ": " << r.reason);
  }
}

TEST_CASE("the CPU device answers timeout for a deadline that has passed, and runs nothing") {
  std::unique_ptr<backends::backend> keep;
  auto& dev = cpu_device(keep);
  const auto* saxpy = kernels::find_kernel("saxpy");
  const auto s = saxpy->known_answer();
  std::vector<protocol::tensor_ref> refs;
  for (const auto& t : s.inputs) refs.push_back(t.ref());
  auto call = saxpy->bind(s.params, refs);
  REQUIRE(call.ok());
  CHECK(dev.run(*call, backends::clock::now() - 1ms).code() == error_code::timeout);
}

TEST_CASE("a deadline that passes during a long CPU run stops it with timeout") {
  std::unique_ptr<backends::backend> keep;
  auto& dev = cpu_device(keep);
  const auto* saxpy = kernels::find_kernel("saxpy");
  const std::uint64_t n = 1 << 24;  // tens of milliseconds on any core, far beyond the 1 ms deadline
  const auto s = saxpy->generate(std::vector<std::uint64_t>{n}, 1, kernels::sample_data::ordinary);
  std::vector<protocol::tensor_ref> refs;
  for (const auto& t : s.inputs) refs.push_back(t.ref());
  auto call = saxpy->bind(s.params, refs);
  REQUIRE(call.ok());
  CHECK(dev.run(*call, backends::clock::now() + 1ms).code() == error_code::timeout);
}
