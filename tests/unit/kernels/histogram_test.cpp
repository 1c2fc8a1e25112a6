// histogram: argument checks, the bin rule's edges (NaN, clamping, subnormals), and exact counts.
#include <cmath>
#include <numeric>

#include "kernel_test_support.hpp"

namespace ec::kernels::test {
namespace {

const kernel_spec& k() { return *find_kernel("histogram"); }

sample hist(double lo, double hi, std::int64_t bins, const std::vector<float>& x) {
  tensor t{"x", dtype::f32, {x.size()}, protocol::bytes(x.size() * 4)};
  if (!x.empty()) std::memcpy(t.data.data(), x.data(), t.data.size());
  return {{f32_param("lo", lo), f32_param("hi", hi), u32_param("bins", bins)}, {t}, {}};
}

std::vector<std::uint32_t> counts(const sample& s) { return values<std::uint32_t>(run(k(), s)[0]); }

TEST_CASE("histogram rejects lo >= hi, non-finite or subnormal edges, and bins outside 1..4096") {
  CHECK(bind_error(k(), hist(1, 1, 4, {})).find("must be less than hi") != std::string::npos);
  CHECK(bind_error(k(), hist(2, 1, 4, {})).find("must be less than hi") != std::string::npos);
  CHECK(bind_error(k(), hist(NAN, 1, 4, {})).find("param 'lo'") != std::string::npos);
  CHECK(bind_error(k(), hist(0, INFINITY, 4, {})).find("param 'hi'") != std::string::npos);
  CHECK(bind_error(k(), hist(1e-40, 1, 4, {})).find("must not be subnormal") != std::string::npos);
  CHECK(bind_error(k(), hist(0, 0, 0, {})).find("param 'bins'") != std::string::npos);
  CHECK(bind_error(k(), hist(0, 1, 4097, {})).find("param 'bins'") != std::string::npos);
}

TEST_CASE("histogram rejects ranges whose scale bins/(hi-lo) is not a normal float") {
  CHECK(bind_error(k(), hist(-3e38, 3e38, 1, {})).find("not a normal f32") != std::string::npos);  // ~1.7e-39
  CHECK(bind_error(k(), hist(0, 1e-37, 4096, {})).find("not a normal f32") != std::string::npos);  // overflow
  CHECK(bind(k(), hist(1, std::nextafter(1.0f, 2.0f), 4096, {})).ok());  // one ulp wide is fine
}

TEST_CASE("histogram rejects missing or mistyped params and a missing, mistyped or rank-2 x") {
  for (const char* name : {"lo", "hi", "bins"}) {
    sample s = hist(0, 1, 4, {0.5f});
    drop_param(s, name);
    CHECK(bind_error(k(), s) == "missing param '" + std::string(name) + "'");
  }
  sample s = hist(0, 1, 4, {0.5f});
  set_param(s, f32_param("bins", 4));
  CHECK(bind_error(k(), s) == "param 'bins' must be u32, got f32");
  s = hist(0, 1, 4, {0.5f});
  s.inputs.clear();
  CHECK(bind_error(k(), s) == "missing input tensor 'x'");
  s = hist(0, 1, 4, {0.5f});
  s.inputs[0].type = dtype::u32;
  CHECK(bind_error(k(), s).find("input 'x' must be f32") != std::string::npos);
  s = hist(0, 1, 4, {0.5f, 1});
  s.inputs[0].shape = {1, 2};
  CHECK(bind_error(k(), s).find("must have shape [n]") != std::string::npos);
}

TEST_CASE("histogram skips NaN, counts -inf and values below lo in bin 0, and +inf and values >= hi in the last") {
  const float nan = NAN, inf = INFINITY;
  CHECK(counts(hist(0, 3, 3, {nan, -inf, -1, 0, 2.99f, 3, 4, inf, -nan})) == std::vector<std::uint32_t>{3, 0, 4});
}

TEST_CASE("histogram treats subnormal inputs as zero on every backend") {
  // -1e-40 would belong to bin 0 of [-1, 1); as 0 it is in bin 1.
  CHECK(counts(hist(-1, 1, 2, {-1e-40f, 1e-40f})) == std::vector<std::uint32_t>{0, 2});
  // With scale = 2^127 the largest subnormal would land in bin 1 unflushed; flushed it is in bin 0.
  const float largest_subnormal = std::nextafter(std::numeric_limits<float>::min(), 0.0f);
  CHECK(counts(hist(0, std::ldexp(1.0, -115), 4096, {largest_subnormal}))[0] == 1);
}

TEST_CASE("histogram puts k + 0.5 in bin k for every one of 4096 unit-width bins") {
  std::vector<float> x(4096);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i) + 0.5f;
  CHECK(counts(hist(0, 4096, 4096, x)) == std::vector<std::uint32_t>(4096, 1));
}

TEST_CASE("histogram of no values is all zeros, and counts add up to the non-NaN inputs on adversarial data") {
  CHECK(counts(hist(0, 1, 5, {})) == std::vector<std::uint32_t>(5, 0));
  const sample s = k().generate(std::vector<std::uint64_t>{100003, 4096}, 4, sample_data::adversarial);
  const auto c = values<std::uint32_t>(run(k(), s, uneven_for)[0]);
  const auto x = values<float>(s.inputs[0]);
  const auto non_nan = std::count_if(x.begin(), x.end(), [](float v) { return !std::isnan(v); });
  CHECK(std::accumulate(c.begin(), c.end(), std::uint64_t{0}) == static_cast<std::uint64_t>(non_nan));
}

TEST_CASE("histogram launches one group per 256 bins and passes scale = bins / (hi - lo) rounded to f32") {
  auto c = bind(k(), hist(-0.1, 0.7, 257, {}));
  REQUIRE(c.ok());
  CHECK(c->groups == std::array<std::uint64_t, 2>{2, 1});
  const float lo = -0.1f, hi = 0.7f;
  CHECK(std::bit_cast<float>(c->scalars[4].bits) == static_cast<float>(257.0 / (double(hi) - double(lo))));
}

}  // namespace
}  // namespace ec::kernels::test
