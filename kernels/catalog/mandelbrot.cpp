// mandelbrot: a tile of escape-iteration counts computed in Q3.28 integer fixed point, validated exactly.
//
// ABI: params x0, y0, dx, dy (i32, Q3.28: value = bits / 2^28), width, height (u32, >= 1), max_iter (u32,
// 1..65536); no inputs; output counts [height, width] (u32); scalars x0, y0, dx, dy (i32), width, height,
// max_iter (u32); local 16x16; groups {ceil(width/16), ceil(height/16)}, grid-stride in x and y.
// Pixel (px, py) is c = (x0 + px*dx, y0 + py*dy); bind() requires every c coordinate in [-4, 4) (bits in
// [-2^30, 2^30)) so that the iteration below never overflows 32 bits. From z = 0, iteration n:
//   if x*x + y*y > 4 (exact 64-bit Q56): count = n, stop;  x' = ((x*x - y*y) >> 28) + cx;
//   y' = ((x*y) >> 27) + cy  (arithmetic shifts round toward -inf); count = max_iter if it never escapes.
// Integer only: every backend must give the same counts bit for bit.
#include <algorithm>
#include <random>

#include "../src/abi_checks.hpp"
#include "catalog_entries.hpp"

namespace ec::kernels {
namespace {

constexpr std::uint32_t spirv_words[] = {
#include "mandelbrot.spv.inc"
};
constexpr std::string_view opencl_c =
#include "mandelbrot.cl.inc"
    ;
constexpr std::string_view glsl =
#include "mandelbrot.comp.inc"
    ;

constexpr std::int64_t one = std::int64_t{1} << 28;  // 1.0 in Q3.28
constexpr std::int64_t coord_min = -4 * one, coord_max = 4 * one - 1;
constexpr std::uint64_t max_pixels = std::uint64_t{1} << 28;  // 1 GiB of counts; also keeps indices in 32 bits
constexpr double i32_min = -2147483648.0, i32_max = 2147483647.0;

constexpr param_spec params[] = {
    {"x0", dtype::i32, -4.0 * one, 4.0 * one - 1, "real part of pixel (0, 0), Q3.28"},
    {"y0", dtype::i32, -4.0 * one, 4.0 * one - 1, "imaginary part of pixel (0, 0), Q3.28"},
    {"dx", dtype::i32, i32_min, i32_max, "real step per pixel column, Q3.28"},
    {"dy", dtype::i32, i32_min, i32_max, "imaginary step per pixel row, Q3.28"},
    {"width", dtype::u32, 1, 1 << 16, "pixels per row"},
    {"height", dtype::u32, 1, 1 << 16, "rows"},
    {"max_iter", dtype::u32, 1, 65536, "iteration cap: the count of points that never escape"},
};
constexpr tensor_spec outputs[] = {{"counts", dtype::u32, "[height, width]"}};
constexpr std::string_view scalars[] = {"x0", "y0", "dx", "dy", "width", "height", "max_iter"};
constexpr local_size local{16, 16};

// Both ends of an axis in [-4, 4): the coordinates are linear in the pixel index, so all are.
result<void> axis_in_range(std::string_view axis, std::int64_t start, std::int64_t step, std::uint64_t pixels) {
  const std::int64_t last = start + static_cast<std::int64_t>(pixels - 1) * step;
  if (last < coord_min || last > coord_max)
    return fail(error_code::invalid_argument,
                std::string(axis) + " of the last pixel = " + std::to_string(last) + " (Q3.28) is outside [-4, 4)");
  return {};
}

result<bound_call> bind(std::span<const param> ps, std::span<const tensor_ref> ins) {
  if (auto r = abi::no_unknown(ps, params, ins, {}); !r) return r.err();
  std::int32_t q[4];
  for (std::size_t i = 0; i < 4; ++i) {
    auto v = abi::param_i32(ps, params[i]);
    if (!v) return v.err();
    q[i] = *v;
  }
  std::uint32_t u[3];
  for (std::size_t i = 0; i < 3; ++i) {
    auto v = abi::param_u32(ps, params[4 + i]);
    if (!v) return v.err();
    u[i] = *v;
  }
  if (auto r = axis_in_range("real part", q[0], q[2], u[0]); !r) return r.err();
  if (auto r = axis_in_range("imaginary part", q[1], q[3], u[1]); !r) return r.err();
  const std::uint64_t pixels = std::uint64_t{u[0]} * u[1];
  if (auto r = abi::at_most("pixels (width*height)", pixels, max_pixels); !r) return r.err();
  auto counts = abi::output(outputs[0], {u[1], u[0]});
  if (!counts) return counts.err();

  bound_call c;
  c.spec = &mandelbrot_spec;
  for (std::size_t i = 0; i < 4; ++i) c.scalars.push_back(abi::i32(scalars[i], q[i]));
  for (std::size_t i = 0; i < 3; ++i) c.scalars.push_back(abi::u32(scalars[4 + i], u[i]));
  c.outputs = {std::move(*counts)};
  c.groups = {abi::groups_for(u[0], local.x), abi::groups_for(u[1], local.y)};
  c.bytes_moved = 4 * pixels;
  c.flops = 0;  // integer arithmetic
  return c;
}

// The ABI's iteration with 64-bit products; x*x + y*y can reach 2^63, hence the unsigned sum.
std::uint32_t escape_count(std::int32_t cx, std::int32_t cy, std::uint32_t max_iter) {
  std::int32_t x = 0, y = 0;
  std::uint32_t n = 0;
  for (; n < max_iter; ++n) {
    const std::int64_t xx = std::int64_t{x} * x, yy = std::int64_t{y} * y, xy = std::int64_t{x} * y;
    if (static_cast<std::uint64_t>(xx) + static_cast<std::uint64_t>(yy) > (std::uint64_t{4} << 56)) break;
    x = static_cast<std::int32_t>(((xx - yy) >> 28) + cx);  // in range: |z|^2 <= 4 and |c| < 4
    y = static_cast<std::int32_t>((xy >> 27) + cy);
  }
  return n;
}

void reference(const bound_call& c, std::span<const std::span<std::byte>> out, const parallel_for& pf) {
  std::int32_t q[4];
  for (std::size_t i = 0; i < 4; ++i) q[i] = static_cast<std::int32_t>(c.scalars[i].bits);
  const std::uint32_t width = c.scalars[4].bits, max_iter = c.scalars[6].bits;
  pf(c.outputs[0].shape[0], [&](std::uint64_t begin, std::uint64_t end) {
    for (std::uint64_t py = begin; py < end; ++py) {
      const auto cy = static_cast<std::int32_t>(q[1] + static_cast<std::int64_t>(py) * q[3]);
      for (std::uint32_t px = 0; px < width; ++px) {
        const auto cx = static_cast<std::int32_t>(q[0] + static_cast<std::int64_t>(px) * q[2]);
        abi::store(out[0], py * width + px, escape_count(cx, cy, max_iter));
      }
    }
  });
}

param p_i32(std::string name, std::int64_t v) { return {std::move(name), dtype::i32, v, 0}; }
param p_u32(std::string name, std::int64_t v) { return {std::move(name), dtype::u32, v, 0}; }

sample known_answer() {
  // c = -2..1 (step 1) + i*(0..1). Orbits by hand (max_iter = 100), all values exact in Q3.28:
  //  -2: 0,-2,2,2,... |z|^2 = 4 is not > 4 -> 100     -1: 0,-1,0,-1,... -> 100     0: -> 100
  //   1: 0,1,2,5 (25 > 4 at n = 3) -> 3                -2+i: |c|^2 = 5 -> 1
  //  -1+i: 0, -1+i, -1-i, -1+3i (10 > 4 at n = 3) -> 3   i: 0, i, -1+i, -i, -1+i, ... -> 100
  //   1+i: 0, 1+i, 1+3i (10 > 4 at n = 2) -> 2
  sample s;
  s.params = {p_i32("x0", -2 * one), p_i32("y0", 0),     p_i32("dx", one),      p_i32("dy", one),
              p_u32("width", 4),     p_u32("height", 2), p_u32("max_iter", 100)};
  s.expected = {abi::make_tensor<std::uint32_t>("counts", dtype::u32, {2, 4}, {100, 100, 100, 3, 1, 3, 100, 2})};
  return s;
}

sample generate(std::span<const std::uint64_t> dims, std::uint64_t seed, sample_data data) {
  const std::uint64_t width = std::max<std::uint64_t>(dims[0], 1), height = std::max<std::uint64_t>(dims[1], 1);
  std::mt19937_64 rng(seed);
  sample s;
  if (data == sample_data::adversarial) {
    // The whole legal square [-4, 4)^2, extreme corners included, and a large cap: the most overflow-prone case.
    const std::int64_t dx = (coord_max - coord_min) / static_cast<std::int64_t>(std::max<std::uint64_t>(width - 1, 1));
    const std::int64_t dy = (coord_max - coord_min) / static_cast<std::int64_t>(std::max<std::uint64_t>(height - 1, 1));
    s.params = {p_i32("x0", coord_min), p_i32("y0", coord_min), p_i32("dx", dx), p_i32("dy", dy)};
    s.params.push_back(p_u32("max_iter", 4096));
  } else {
    // A view of the set's boundary around a seeded centre in [-1.5, 0.5] x [-1, 1], 2.5 units wide.
    std::uniform_int_distribution<std::int64_t> cx(-3 * one / 2, one / 2), cy(-one, one);
    const auto longest = static_cast<std::int64_t>(std::max(width, height));
    const std::int64_t step = std::max<std::int64_t>(5 * one / 2 / longest, 1);
    s.params = {p_i32("x0", cx(rng) - step * static_cast<std::int64_t>(width) / 2),
                p_i32("y0", cy(rng) - step * static_cast<std::int64_t>(height) / 2), p_i32("dx", step),
                p_i32("dy", step), p_u32("max_iter", 256)};
  }
  s.params.push_back(p_u32("width", static_cast<std::int64_t>(width)));
  s.params.push_back(p_u32("height", static_cast<std::int64_t>(height)));
  return s;
}

}  // namespace

const kernel_spec mandelbrot_spec{
    .name = "mandelbrot",
    .version = 1,
    .validation = validation_mode::exact,
    .rtol = 0,
    .atol = 0,
    .params = params,
    .inputs = {},
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
    .dims_count = 2,
    .dims_doc = "{width, height}",
};

}  // namespace ec::kernels
