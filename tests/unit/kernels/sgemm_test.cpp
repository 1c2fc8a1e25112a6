// sgemm: ABI checks, exact agreement with a plain ikj loop on edge shapes, and an honest tolerance.
#include <cmath>
#include <random>

#include "kernel_test_support.hpp"

namespace ec::kernels::test {
namespace {

const kernel_spec& k() { return *find_kernel("sgemm"); }

tensor matrix(std::string name, std::uint64_t rows, std::uint64_t cols, std::vector<float> v = {}) {
  if (v.empty()) v.assign(rows * cols, 1.0f);
  tensor t{std::move(name), dtype::f32, {rows, cols}, protocol::bytes(v.size() * 4)};
  if (!v.empty()) std::memcpy(t.data.data(), v.data(), t.data.size());
  return t;
}

sample gemm(std::uint64_t m, std::uint64_t n, std::uint64_t kk) {
  return {{f32_param("alpha", 1)}, {matrix("a", m, kk), matrix("b", kk, n)}, {}};
}

// The ABI's definition written plainly: sum from +0 in ascending k, each product rounded, then times alpha.
std::vector<float> plain(const sample& s) {
  const auto a = values<float>(s.inputs[0]), b = values<float>(s.inputs[1]);
  const std::uint64_t m = s.inputs[0].shape[0], kk = s.inputs[0].shape[1], n = s.inputs[1].shape[1];
  const auto alpha = static_cast<float>(s.params[0].f);
  std::vector<float> c(m * n);
  for (std::uint64_t i = 0; i < m; ++i)
    for (std::uint64_t j = 0; j < n; ++j) {
      float acc = 0.0f;
      for (std::uint64_t p = 0; p < kk; ++p) acc = acc + a[i * kk + p] * b[p * n + j];
      c[i * n + j] = alpha * acc;
    }
  return c;
}

bool same_floats(const std::vector<float>& x, const std::vector<float>& y) {
  if (x.size() != y.size()) return false;
  for (std::size_t i = 0; i < x.size(); ++i)
    if (!(std::isnan(x[i]) && std::isnan(y[i])) &&
        std::bit_cast<std::uint32_t>(x[i]) != std::bit_cast<std::uint32_t>(y[i]))
      return false;
  return true;
}

TEST_CASE("sgemm rejects a K mismatch between a and b with an error naming both") {
  sample s = gemm(3, 4, 5);
  s.inputs[1] = matrix("b", 6, 4);
  const auto msg = bind_error(k(), s);
  CHECK(msg.find("a is [M, K] with K = 5") != std::string::npos);
  CHECK(msg.find("b is [K, N] with K = 6") != std::string::npos);
}

TEST_CASE("sgemm rejects a missing, mistyped or infinite alpha") {
  sample s = gemm(2, 2, 2);
  s.params.clear();
  CHECK(bind_error(k(), s) == "missing param 'alpha'");
  s.params = {u32_param("alpha", 1)};
  CHECK(bind_error(k(), s).find("must be f32, got u32") != std::string::npos);
  s.params = {f32_param("alpha", INFINITY)};
  CHECK(bind_error(k(), s).find("outside") != std::string::npos);
  s.params = {f32_param("alpha", NAN)};
  CHECK(bind_error(k(), s).find("outside") != std::string::npos);
}

TEST_CASE("sgemm rejects missing, mistyped, wrong-rank and wrongly sized tensors, naming the tensor") {
  sample s = gemm(2, 3, 4);
  s.inputs.pop_back();
  CHECK(bind_error(k(), s) == "missing input tensor 'b'");
  s = gemm(2, 3, 4);
  s.inputs[0].type = dtype::u32;
  CHECK(bind_error(k(), s).find("input 'a' must be f32, got u32") != std::string::npos);
  s = gemm(2, 3, 4);
  s.inputs[1].shape = {12};
  CHECK(bind_error(k(), s).find("input 'b' must have shape [K, N]") != std::string::npos);
  s = gemm(2, 3, 4);
  s.inputs[0].data.pop_back();
  CHECK(bind_error(k(), s).find("input 'a': data is 31 bytes") != std::string::npos);
  s = gemm(2, 3, 4);
  s.inputs.push_back(s.inputs[0]);
  CHECK(bind_error(k(), s) == "input tensor 'a' given twice");
}

TEST_CASE("sgemm rejects zero-sized M, N or K") {
  for (auto [m, n, kk] : {std::tuple{0, 3, 4}, {2, 0, 4}, {2, 3, 0}}) {
    sample s{{f32_param("alpha", 1)},
             {matrix("a", std::uint64_t(m), std::uint64_t(kk)), matrix("b", std::uint64_t(kk), std::uint64_t(n))},
             {}};
    CHECK(bind_error(k(), s) == "M, N and K must be at least 1");
  }
}

TEST_CASE("sgemm binds 64x64 tiles as groups and counts 2*M*N*K flops") {
  auto c = bind(k(), gemm(65, 130, 7));
  REQUIRE(c.ok());
  CHECK(c->groups == std::array<std::uint64_t, 2>{3, 2});
  CHECK(c->flops == 2.0 * 65 * 130 * 7);
  CHECK(c->bytes_moved == 4 * (65 * 7 + 7 * 130 + 65 * 130));
  CHECK(c->outputs[0].shape == std::vector<std::uint64_t>{65, 130});
}

TEST_CASE("sgemm equals the plain ascending-k loop to the bit on 1, prime and non-block-multiple shapes") {
  const std::uint64_t shapes[][3] = {{1, 1, 1},    {1, 17, 3},   {5, 1, 7},  {13, 31, 17}, {67, 65, 3}, {4, 16, 1},
                                     {64, 64, 64}, {3, 33, 129}, {8, 48, 2}, {6, 16, 5},   {12, 32, 3}};
  for (const auto& d : shapes) {
    CAPTURE(d[0]);
    CAPTURE(d[1]);
    CAPTURE(d[2]);
    const sample s =
        k().generate(std::vector<std::uint64_t>{d[0], d[1], d[2]}, d[0] * 131 + d[1], sample_data::ordinary);
    CHECK(same_floats(values<float>(run(k(), s)[0]), plain(s)));
  }
}

TEST_CASE("sgemm propagates NaN, infinities, huge values, denormals and -0 exactly like the plain loop") {
  const sample s = k().generate(std::vector<std::uint64_t>{21, 35, 19}, 5, sample_data::adversarial);
  const auto c = values<float>(run(k(), s, uneven_for)[0]);
  CHECK(same_floats(c, plain(s)));
  CHECK(std::any_of(c.begin(), c.end(), [](float v) { return std::isnan(v); }));
}

TEST_CASE("sgemm stays within its tolerance of a double-precision product for K = 4096") {
  const sample s = k().generate(std::vector<std::uint64_t>{6, 9, 4096}, 11, sample_data::ordinary);
  const auto c = values<float>(run(k(), s)[0]);
  const auto a = values<float>(s.inputs[0]), b = values<float>(s.inputs[1]);
  for (std::uint64_t i = 0; i < 6; ++i)
    for (std::uint64_t j = 0; j < 9; ++j) {
      double exact = 0;
      for (std::uint64_t p = 0; p < 4096; ++p) exact += double(a[i * 4096 + p]) * double(b[p * 9 + j]);
      CHECK(protocol::within_tolerance(c[i * 9 + j], exact, k().rtol, k().atol));
    }
}

TEST_CASE("sgemm reference reads and writes misaligned tensor bytes") {
  const sample s = k().generate(std::vector<std::uint64_t>{5, 19, 7}, 2, sample_data::ordinary);
  protocol::bytes a_buf(s.inputs[0].data.size() + 1), b_buf(s.inputs[1].data.size() + 3);
  std::memcpy(a_buf.data() + 1, s.inputs[0].data.data(), s.inputs[0].data.size());
  std::memcpy(b_buf.data() + 3, s.inputs[1].data.data(), s.inputs[1].data.size());
  const std::vector<tensor_ref> ins{{"a", dtype::f32, s.inputs[0].shape, {a_buf.data() + 1, s.inputs[0].data.size()}},
                                    {"b", dtype::f32, s.inputs[1].shape, {b_buf.data() + 3, s.inputs[1].data.size()}}};
  auto c = k().bind(s.params, ins);
  REQUIRE(c.ok());
  std::vector<std::byte> out(c->outputs[0].bytes + 1);
  const std::span<std::byte> spans[] = {std::span<std::byte>(out).subspan(1)};
  const std::span<const std::span<std::byte>> outs(spans);
  k().reference(*c, outs, serial_for);
  std::vector<float> got(5 * 19);
  std::memcpy(got.data(), out.data() + 1, got.size() * 4);
  CHECK(same_floats(got, plain(s)));
}

}  // namespace
}  // namespace ec::kernels::test
