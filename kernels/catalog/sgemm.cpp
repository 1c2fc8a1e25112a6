// sgemm: c[M,N] = alpha * (a[M,K] . b[K,N]), f32 row-major, validated with a tolerance.
//
// ABI: params alpha (f32, finite); inputs a [M, K], b [K, N] (f32); output c [M, N] (f32); scalars m, n, k
// (u32), alpha (f32); local 16x16, each invocation a 4x4 register block (64x64 tile per group); groups
// {ceil(N/64), ceil(M/64)}. M, N, K >= 1 and each tensor at most 2^31 elements (32-bit GPU indices).
// Every element is summed from +0 in ascending k, each product rounded before its add (no FMA), then
// multiplied by alpha once: the GPU kernels and this reference agree to the bit on normal numbers.
// Tolerance (for other correct orders, FMA, denormal flushing): rtol 1e-4, atol 1e-3, calibrated for
// |a|, |b| <= 1, |alpha| <= 1, K <= 4096 (the generated data); see docs/kernels.md.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "../src/abi_checks.hpp"
#include "catalog_entries.hpp"

// x86-64: one build runs AVX2 where the CPU has it (no FMA: -ffp-contract=off keeps mul and add separate, so
// every clone rounds like the GPUs).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define EC_SGEMM_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define EC_SGEMM_CLONES
#endif

namespace ec::kernels {
namespace {

constexpr std::uint32_t spirv_words[] = {
#include "sgemm.spv.inc"
};
constexpr std::string_view opencl_c =
#include "sgemm.cl.inc"
    ;
constexpr std::string_view glsl =
#include "sgemm.comp.inc"
    ;

constexpr std::uint64_t max_elements = std::uint64_t{1} << 31;
constexpr std::uint64_t tile = 64;  // 16x16 invocations x 4x4 block

constexpr param_spec params[] = {{"alpha", dtype::f32, -3.4e38, 3.4e38, "scale applied to a . b"}};
constexpr tensor_spec inputs[] = {{"a", dtype::f32, "[M, K]"}, {"b", dtype::f32, "[K, N]"}};
constexpr tensor_spec outputs[] = {{"c", dtype::f32, "[M, N]"}};
constexpr std::string_view scalars[] = {"m", "n", "k", "alpha"};
constexpr local_size local{16, 16};

error bad(std::string message) { return fail(error_code::invalid_argument, std::move(message)); }

result<void> check_dims(std::uint64_t m, std::uint64_t n, std::uint64_t k, std::uint64_t kb) {
  if (k != kb)
    return bad("a is [M, K] with K = " + std::to_string(k) + " but b is [K, N] with K = " + std::to_string(kb) +
               ": the inner dimensions of a and b must match");
  if (m == 0 || n == 0 || k == 0) return bad("M, N and K must be at least 1");
  if (auto r = abi::at_most("elements of a (M*K)", m * k, max_elements); !r) return r;
  if (auto r = abi::at_most("elements of b (K*N)", k * n, max_elements); !r) return r;
  return abi::at_most("elements of c (M*N)", m * n, max_elements);
}

result<bound_call> bind(std::span<const param> ps, std::span<const tensor_ref> ins) {
  if (auto r = abi::no_unknown(ps, params, ins, inputs); !r) return r.err();
  auto alpha = abi::param_f32(ps, params[0]);
  if (!alpha) return alpha.err();
  auto a = abi::input(ins, inputs[0], 2);
  if (!a) return a.err();
  auto b = abi::input(ins, inputs[1], 2);
  if (!b) return b.err();
  const std::uint64_t m = a->shape[0], k = a->shape[1], n = b->shape[1];
  // Each dimension fits 32 bits once every product is checked against 2^31 (all are >= 1).
  if (auto r = check_dims(m, n, k, b->shape[0]); !r) return r.err();
  auto c = abi::output(outputs[0], {m, n});
  if (!c) return c.err();

  bound_call call;
  call.spec = &sgemm_spec;
  call.inputs = {*a, *b};
  call.scalars = {abi::u32("m", static_cast<std::uint32_t>(m)), abi::u32("n", static_cast<std::uint32_t>(n)),
                  abi::u32("k", static_cast<std::uint32_t>(k)), abi::f32("alpha", *alpha)};
  call.outputs = {std::move(*c)};
  call.groups = {abi::groups_for(n, tile), abi::groups_for(m, tile)};
  call.bytes_moved = 4 * (m * k + k * n + m * n);
  call.flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  return call;
}

constexpr std::size_t mr = 6;   // rows of c per register block: 12 accumulators + 3 operands fit 16 ymm
constexpr std::size_t nr = 16;  // columns of c per register block: two 8-float vectors
using v8 = float __attribute__((vector_size(32)));

// c[0..6, 0..16) (row stride n floats) = alpha * a[0..6, 0..k) . panel, where panel is b[0..k, j0..j0+16)
// packed densely: the packed panel avoids b's row stride (4 KiB at n = 1024 thrashes L1 sets).
EC_SGEMM_CLONES void block_6x16(const float* a, const float* panel, std::byte* c, std::size_t n, std::size_t k,
                                float alpha) {
  v8 acc[mr][2] = {};
  for (std::size_t kk = 0; kk < k; ++kk) {
    v8 b0, b1;
    std::memcpy(&b0, panel + kk * nr, sizeof b0);
    std::memcpy(&b1, panel + kk * nr + 8, sizeof b1);
    for (std::size_t r = 0; r < mr; ++r) {
      const float av = a[r * k + kk];
      acc[r][0] += av * b0;
      acc[r][1] += av * b1;
    }
  }
  for (std::size_t r = 0; r < mr; ++r) {
    const v8 lo = alpha * acc[r][0], hi = alpha * acc[r][1];
    std::memcpy(c + r * n * sizeof(float), &lo, sizeof lo);
    std::memcpy(c + (r * n + 8) * sizeof(float), &hi, sizeof hi);
  }
}

// One row of c over a panel w < 16 columns wide, ikj order (the same per-element rounding as block_6x16).
EC_SGEMM_CLONES void row_edge(const float* a_row, const float* panel, std::size_t w, std::byte* c, std::size_t k,
                              float alpha) {
  float acc[nr] = {};
  for (std::size_t kk = 0; kk < k; ++kk)
    for (std::size_t j = 0; j < w; ++j) acc[j] += a_row[kk] * panel[kk * w + j];
  for (std::size_t j = 0; j < w; ++j) acc[j] = alpha * acc[j];
  std::memcpy(c, acc, w * sizeof(float));
}

struct gemm_view {
  std::span<const std::uint8_t> a, b;  // tensor bytes: no alignment promise, read with memcpy only
  std::span<std::byte> c;
  std::size_t m, n, k;
  float alpha;
};

// b[0..k, j0..j0+w) packed densely into `panel`.
void pack_panel(const gemm_view& g, std::size_t j0, std::size_t w, std::vector<float>& panel) {
  panel.resize(g.k * w);
  for (std::size_t kk = 0; kk < g.k; ++kk)
    std::memcpy(&panel[kk * w], g.b.data() + (kk * g.n + j0) * sizeof(float), w * sizeof(float));
}

// Rows [r0, r1) of c: 6x16 blocks over packed 16-column panels; leftover rows and columns row by row.
void rows(const gemm_view& g, std::size_t r0, std::size_t r1) {
  std::vector<float> a((r1 - r0) * g.k), panel;
  std::memcpy(a.data(), g.a.data() + r0 * g.k * sizeof(float), a.size() * sizeof(float));
  for (std::size_t j0 = 0; j0 < g.n; j0 += nr) {
    const std::size_t w = std::min(nr, g.n - j0);
    pack_panel(g, j0, w, panel);
    std::size_t i = r0;
    auto c_at = [&](std::size_t row) { return g.c.data() + (row * g.n + j0) * sizeof(float); };
    if (w == nr)
      for (; i + mr <= r1; i += mr) block_6x16(&a[(i - r0) * g.k], panel.data(), c_at(i), g.n, g.k, g.alpha);
    for (; i < r1; ++i) row_edge(&a[(i - r0) * g.k], panel.data(), w, c_at(i), g.k, g.alpha);
  }
}

void reference(const bound_call& call, std::span<const std::span<std::byte>> out, const parallel_for& pf) {
  const gemm_view g{call.inputs[0].data,
                    call.inputs[1].data,
                    out[0],
                    call.scalars[0].bits,
                    call.scalars[1].bits,
                    call.scalars[2].bits,
                    std::bit_cast<float>(call.scalars[3].bits)};
  pf(g.m, [&](std::uint64_t begin, std::uint64_t end) { rows(g, begin, end); });
}

sample known_answer() {
  // [[1,2,3],[4,5,6]] . [[7,8],[9,10],[11,12]] = [[58,64],[139,154]] by hand; alpha = 0.5 halves it exactly.
  sample s;
  s.params = {{"alpha", dtype::f32, 0, 0.5}};
  s.inputs = {abi::make_tensor<float>("a", dtype::f32, {2, 3}, {1, 2, 3, 4, 5, 6}),
              abi::make_tensor<float>("b", dtype::f32, {3, 2}, {7, 8, 9, 10, 11, 12})};
  s.expected = {abi::make_tensor<float>("c", dtype::f32, {2, 2}, {29, 32, 69.5f, 77})};
  return s;
}

std::vector<float> random_matrix(std::uint64_t count, std::mt19937_64& rng, sample_data data) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(count);
  for (auto& x : v) x = dist(rng);
  if (data == sample_data::adversarial) {
    const float specials[] = {std::numeric_limits<float>::quiet_NaN(),
                              std::numeric_limits<float>::infinity(),
                              -std::numeric_limits<float>::infinity(),
                              1.0e30f,
                              -1.0e30f,
                              1.0e-40f,
                              -0.0f};
    for (std::uint64_t i = 0; i < count; i += 7) v[i] = specials[(i / 7) % std::size(specials)];
  }
  return v;
}

sample generate(std::span<const std::uint64_t> dims, std::uint64_t seed, sample_data data) {
  const std::uint64_t m = dims[0], n = dims[1], k = dims[2];
  std::mt19937_64 rng(seed);
  sample s;
  s.params = {{"alpha", dtype::f32, 0, data == sample_data::adversarial ? -0.75 : 1.0}};
  s.inputs = {abi::make_tensor("a", dtype::f32, {m, k}, random_matrix(m * k, rng, data)),
              abi::make_tensor("b", dtype::f32, {k, n}, random_matrix(k * n, rng, data))};
  return s;
}

}  // namespace

const kernel_spec sgemm_spec{
    .name = "sgemm",
    .version = 1,
    .validation = validation_mode::tolerance,
    .rtol = 1e-4,
    .atol = 1e-3,
    .params = params,
    .inputs = inputs,
    .outputs = outputs,
    .scalar_names = scalars,
    .local = local,
    .spirv = spirv_words,
    .opencl_source = opencl_c,
    .glsl_source = glsl,
    .bind = bind,
    .reference = reference,
    .known_answer = known_answer,
    .generate = generate,
    .dims_count = 3,
    .dims_doc = "{M, N, K}",
};

}  // namespace ec::kernels
