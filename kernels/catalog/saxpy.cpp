// saxpy: z = a * x + y (f32), validated with a tolerance; the template every catalogue kernel follows.
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "../src/abi_checks.hpp"
#include "catalog_entries.hpp"

#if defined(__x86_64__)
#include <emmintrin.h>
#endif

namespace ec::kernels {
namespace {

constexpr std::uint32_t spirv_words[] = {
#include "saxpy.spv.inc"
};
constexpr std::string_view opencl_c =
#include "saxpy.cl.inc"
    ;
constexpr std::string_view glsl =
#include "saxpy.comp.inc"
    ;

// 2^31 elements: the GPU index is a 32-bit uint that must not wrap when the grid stride is added to it.
constexpr std::uint64_t max_elements = std::uint64_t{1} << 31;

constexpr param_spec params[] = {{"a", dtype::f32, -3.4e38, 3.4e38, "scale applied to x"}};
constexpr tensor_spec inputs[] = {{"x", dtype::f32, "[n]"}, {"y", dtype::f32, "[n]"}};
constexpr tensor_spec outputs[] = {{"z", dtype::f32, "[n]"}};
constexpr std::string_view scalars[] = {"n", "a"};
constexpr local_size local{256, 1};

result<bound_call> bind(std::span<const param> ps, std::span<const tensor_ref> ins) {
  if (auto r = abi::no_unknown(ps, params, ins, inputs); !r) return r.err();
  auto a = abi::param_value(ps, params[0]);
  if (!a) return a.err();
  auto x = abi::input(ins, inputs[0], 1);
  if (!x) return x.err();
  auto y = abi::input(ins, inputs[1], 1);
  if (!y) return y.err();
  const std::uint64_t n = x->shape[0];
  if (y->shape[0] != n) return fail(error_code::invalid_argument, "x and y must have the same length");
  if (auto r = abi::at_most("n", n, max_elements); !r) return r.err();
  auto z = abi::output(outputs[0], {n});
  if (!z) return z.err();

  bound_call c;
  c.spec = &saxpy_spec;
  c.inputs = {*x, *y};
  c.scalars = {abi::u32("n", static_cast<std::uint32_t>(n)), abi::f32("a", static_cast<float>(*a))};
  c.outputs = {std::move(*z)};
  c.groups = {abi::groups_for(n, local.x), 1};
  c.bytes_moved = 12 * n;
  c.flops = 2.0 * static_cast<double>(n);
  return c;
}

// Chunks at least this long bypass the cache on the way out: the result is not read again soon, and a normal
// store first reads each line in (read-for-ownership), turning 12 bytes of traffic per element into 16.
constexpr std::uint64_t streaming_min_elements = 64 * 1024;

void saxpy_scalar(float a, const std::uint8_t* x, const std::uint8_t* y, std::byte* z, std::uint64_t n) {
  for (std::uint64_t i = 0; i < n; ++i) {
    float xi, yi;
    std::memcpy(&xi, x + 4 * i, 4);
    std::memcpy(&yi, y + 4 * i, 4);
    const float r = a * xi + yi;  // -ffp-contract=off: no FMA, the same rounding as every backend
    std::memcpy(z + 4 * i, &r, 4);
  }
}

// Same arithmetic four lanes at a time (mulps then addps round exactly like mulss then addss), with
// non-temporal stores; x86-64 always has SSE2. Elsewhere the scalar loop, which compilers vectorize.
void saxpy_streaming(float a, const std::uint8_t* x, const std::uint8_t* y, std::byte* z, std::uint64_t n) {
#if defined(__x86_64__)
  std::uint64_t head = (16 - reinterpret_cast<std::uintptr_t>(z) % 16) % 16 / 4;
  if (reinterpret_cast<std::uintptr_t>(z) % 4 != 0 || head > n) head = n;  // unaligned floats: scalar only
  saxpy_scalar(a, x, y, z, head);
  const __m128 va = _mm_set1_ps(a);
  std::uint64_t i = head;
  for (; i + 4 <= n; i += 4) {
    const __m128 vx = _mm_loadu_ps(reinterpret_cast<const float*>(x + 4 * i));
    const __m128 vy = _mm_loadu_ps(reinterpret_cast<const float*>(y + 4 * i));
    _mm_stream_ps(reinterpret_cast<float*>(z + 4 * i), _mm_add_ps(_mm_mul_ps(va, vx), vy));
  }
  _mm_sfence();  // streaming stores are weakly ordered: make them visible before the chunk counts as done
  saxpy_scalar(a, x + 4 * i, y + 4 * i, z + 4 * i, n - i);
#else
  saxpy_scalar(a, x, y, z, n);
#endif
}

void reference(const bound_call& c, std::span<const std::span<std::byte>> out, const parallel_for& pf) {
  const float a = std::bit_cast<float>(c.scalars[1].bits);
  const auto x = c.inputs[0].data, y = c.inputs[1].data;
  pf(c.outputs[0].shape[0], [&](std::uint64_t begin, std::uint64_t end) {
    const auto n = end - begin;
    auto* run = n >= streaming_min_elements ? saxpy_streaming : saxpy_scalar;
    run(a, x.data() + 4 * begin, y.data() + 4 * begin, out[0].data() + 4 * begin, n);
  });
}

sample known_answer() {
  sample s;
  s.params = {{"a", dtype::f32, 0, 2.0}};
  s.inputs = {abi::make_tensor<float>("x", dtype::f32, {5}, {1, 2, 3, -4, 0.5f}),
              abi::make_tensor<float>("y", dtype::f32, {5}, {10, 20, 30, 40, -1})};
  s.expected = {abi::make_tensor<float>("z", dtype::f32, {5}, {12, 24, 36, 32, 0})};
  return s;
}

sample generate(std::span<const std::uint64_t> dims, std::uint64_t seed, sample_data data) {
  const std::uint64_t n = dims[0];
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(-100.0f, 100.0f);
  std::vector<float> x(n), y(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    x[i] = dist(rng);
    y[i] = dist(rng);
  }
  if (data == sample_data::adversarial) {
    const float specials[] = {std::numeric_limits<float>::quiet_NaN(),
                              std::numeric_limits<float>::infinity(),
                              -std::numeric_limits<float>::infinity(),
                              3.0e38f,
                              -3.0e38f,
                              1.0e-40f,
                              -0.0f};
    for (std::uint64_t i = 0; i < n; i += 3) x[i] = specials[(i / 3) % std::size(specials)];
    for (std::uint64_t i = 1; i < n; i += 5) y[i] = specials[(i / 5 + 2) % std::size(specials)];
  }
  sample s;
  s.params = {{"a", dtype::f32, 0, data == sample_data::adversarial ? 2.5 : 1.5}};
  s.inputs = {abi::make_tensor("x", dtype::f32, {n}, x), abi::make_tensor("y", dtype::f32, {n}, y)};
  return s;
}

}  // namespace

// Tolerance: one rounding of the product and one of the sum; rtol covers a different but correct order.
const kernel_spec saxpy_spec{
    .name = "saxpy",
    .version = 1,
    .validation = validation_mode::tolerance,
    .rtol = 1e-6,
    .atol = 1e-30,
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
    .dims_count = 1,
    .dims_doc = "{n}",
};

}  // namespace ec::kernels
