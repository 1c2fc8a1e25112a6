// reduce_sum: ABI checks, the ABI's summation order written out plainly, specials and an honest tolerance.
#include <cmath>

#include "kernel_test_support.hpp"

namespace ec::kernels::test {
namespace {

const kernel_spec& k() { return *find_kernel("reduce_sum"); }

sample rows_of(std::uint64_t rows, std::uint64_t cols, const std::vector<float>& v) {
  tensor x{"x", dtype::f32, {rows, cols}, protocol::bytes(v.size() * 4)};
  if (!v.empty()) std::memcpy(x.data.data(), v.data(), x.data.size());
  return {{}, {x}, {}};
}

// The ABI's order, index by index: lane j % 256 accumulates ascending j from +0, then the halving tree.
float abi_order_sum(const float* row, std::size_t cols) {
  float lane[256] = {};
  for (std::size_t j = 0; j < cols; ++j) lane[j % 256] = lane[j % 256] + row[j];
  for (std::size_t h = 128; h >= 1; h /= 2)
    for (std::size_t t = 0; t < h; ++t) lane[t] = lane[t] + lane[t + h];
  return lane[0];
}

TEST_CASE("reduce_sum rejects a missing, mistyped or rank-1 x, zero rows, params and unknown tensors") {
  CHECK(bind_error(k(), sample{}) == "missing input tensor 'x'");
  sample s = rows_of(2, 2, {1, 2, 3, 4});
  s.inputs[0].type = dtype::i32;
  CHECK(bind_error(k(), s).find("input 'x' must be f32, got i32") != std::string::npos);
  s = rows_of(2, 2, {1, 2, 3, 4});
  s.inputs[0].shape = {4};
  CHECK(bind_error(k(), s).find("must have shape [rows, cols]") != std::string::npos);
  CHECK(bind_error(k(), rows_of(0, 5, {})) == "x must have at least one row (rows = 0)");
  s = rows_of(2, 2, {1, 2, 3, 4});
  s.params = {f32_param("scale", 2)};
  CHECK(bind_error(k(), s) == "unknown param 'scale'");
}

TEST_CASE("reduce_sum sums an empty row to +0 and a single column to itself") {
  const auto empty = values<float>(run(k(), rows_of(3, 0, {}))[0]);
  REQUIRE(empty.size() == 3);
  for (float v : empty) CHECK(std::bit_cast<std::uint32_t>(v) == 0u);
  CHECK(values<float>(run(k(), rows_of(3, 1, {1.5f, -2, 7}))[0]) == std::vector<float>{1.5f, -2, 7});
}

TEST_CASE("reduce_sum follows the ABI's 256-lane-then-tree order to the bit for widths around the lane count") {
  for (std::uint64_t cols : {1, 2, 255, 256, 257, 511, 1000, 4099}) {
    CAPTURE(cols);
    const sample s = k().generate(std::vector<std::uint64_t>{5, cols}, cols, sample_data::ordinary);
    const auto got = values<float>(run(k(), s, uneven_for)[0]);
    const auto x = values<float>(s.inputs[0]);
    for (std::uint64_t r = 0; r < 5; ++r)
      CHECK(std::bit_cast<std::uint32_t>(got[r]) == std::bit_cast<std::uint32_t>(abi_order_sum(&x[r * cols], cols)));
  }
}

TEST_CASE("reduce_sum gives NaN for NaN or +inf with -inf, inf for inf or overflow, and +0 for a row of -0") {
  const sample s = k().generate(std::vector<std::uint64_t>{8, 300}, 1, sample_data::adversarial);
  const auto got = values<float>(run(k(), s)[0]);
  CHECK(std::isnan(got[0]));
  CHECK(got[1] == INFINITY);
  CHECK(got[2] == -INFINITY);
  CHECK(std::isnan(got[3]));
  CHECK(got[4] == INFINITY);
  CHECK(got[5] > 0.0f);  // 300 denormals, unflushed on the CPU (a GPU may give 0: within atol)
  CHECK(protocol::within_tolerance(0.0, got[5], k().rtol, k().atol));
  CHECK(std::bit_cast<std::uint32_t>(got[6]) == 0u);
  CHECK(std::isfinite(got[7]));
}

TEST_CASE("reduce_sum stays within its tolerance of the exact sum for 2^20 columns in -1..1") {
  const std::uint64_t cols = std::uint64_t{1} << 20;
  const sample s = k().generate(std::vector<std::uint64_t>{2, cols}, 9, sample_data::ordinary);
  const auto got = values<float>(run(k(), s)[0]);
  const auto x = values<float>(s.inputs[0]);
  for (std::uint64_t r = 0; r < 2; ++r) {
    double exact = 0;
    for (std::uint64_t j = 0; j < cols; ++j) exact += x[r * cols + j];
    CHECK(protocol::within_tolerance(got[r], exact, k().rtol, k().atol));
  }
}

TEST_CASE("reduce_sum launches one group per row, folding rows beyond 65535 into y") {
  auto c = bind(k(), rows_of(70000, 0, {}));
  REQUIRE(c.ok());
  CHECK(c->groups == std::array<std::uint64_t, 2>{65535, 2});
}

}  // namespace
}  // namespace ec::kernels::test
