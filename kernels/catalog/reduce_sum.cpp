// reduce_sum: s[r] = sum of x[r, 0..cols) (f32, sum along the last axis), validated with a tolerance.
//
// ABI: no params; input x [rows, cols] (f32); output s [rows] (f32); scalars rows, cols (u32); local 256x1
// (the tree needs exactly 256 lanes); one workgroup per row, groups {min(rows, 65535), ceil(rows / 65535)},
// grid-stride over rows. rows >= 1, cols >= 0 (an empty row sums to +0), rows*cols <= 2^31.
// The summation order is part of the ABI: lane t sums x[r, t], x[r, t+256], ... ascending from +0, then a tree
// adds part[t] + part[t+h] for h = 128, 64, ..., 1. The reference follows it, so all backends agree to the
// bit on normal numbers. Tolerance (other pairwise/blocked orders, denormal flushing): rtol 1e-5, atol 1e-2,
// calibrated for |x| <= 1 and cols <= 2^20 (expected error of this order vs the exact sum is ~1e-3 there).
#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <random>

#include "../src/abi_checks.hpp"
#include "catalog_entries.hpp"

namespace ec::kernels {
namespace {

constexpr std::uint32_t spirv_words[] = {
#include "reduce_sum.spv.inc"
};
constexpr std::string_view opencl_c =
#include "reduce_sum.cl.inc"
    ;
constexpr std::string_view glsl =
#include "reduce_sum.comp.inc"
    ;

constexpr std::uint64_t max_elements = std::uint64_t{1} << 31;
constexpr std::uint64_t max_groups_x = 65535;  // lavapipe's (and the Vulkan minimum's) per-dimension limit
constexpr std::size_t lanes = 256;

constexpr tensor_spec inputs[] = {{"x", dtype::f32, "[rows, cols]"}};
constexpr tensor_spec outputs[] = {{"s", dtype::f32, "[rows]"}};
constexpr std::string_view scalars[] = {"rows", "cols"};
constexpr local_size local{lanes, 1};

result<bound_call> bind(std::span<const param> ps, std::span<const tensor_ref> ins) {
  if (auto r = abi::no_unknown(ps, {}, ins, inputs); !r) return r.err();
  auto x = abi::input(ins, inputs[0], 2);
  if (!x) return x.err();
  const std::uint64_t rows = x->shape[0], cols = x->shape[1];
  if (rows == 0) return fail(error_code::invalid_argument, "x must have at least one row (rows = 0)");
  if (auto r = abi::at_most("rows", rows, max_elements); !r) return r.err();
  if (auto r = abi::at_most("cols", cols, max_elements); !r) return r.err();
  if (auto r = abi::at_most("elements of x (rows*cols)", rows * cols, max_elements); !r) return r.err();
  auto s = abi::output(outputs[0], {rows});
  if (!s) return s.err();

  bound_call c;
  c.spec = &reduce_sum_spec;
  c.inputs = {*x};
  c.scalars = {abi::u32("rows", static_cast<std::uint32_t>(rows)), abi::u32("cols", static_cast<std::uint32_t>(cols))};
  c.outputs = {std::move(*s)};
  c.groups = {std::min(rows, max_groups_x), abi::groups_for(rows, max_groups_x)};
  c.bytes_moved = 4 * (rows * cols + rows);
  c.flops = static_cast<double>(rows * cols);
  return c;
}

// One row in the ABI's order: 256 strided lane sums (vectorisable: lanes are independent), then the tree.
float row_sum(const std::uint8_t* row, std::size_t cols) {
  std::array<float, lanes> part{}, chunk;
  for (std::size_t base = 0; base < cols; base += lanes) {
    const std::size_t w = std::min(lanes, cols - base);
    std::memcpy(chunk.data(), row + base * sizeof(float), w * sizeof(float));
    for (std::size_t t = 0; t < w; ++t) part[t] += chunk[t];
  }
  for (std::size_t h = lanes / 2; h > 0; h /= 2)
    for (std::size_t t = 0; t < h; ++t) part[t] = part[t] + part[t + h];
  return part[0];
}

void reference(const bound_call& c, std::span<const std::span<std::byte>> out, const parallel_for& pf) {
  const std::size_t cols = c.scalars[1].bits;
  const auto x = c.inputs[0].data;
  pf(c.outputs[0].shape[0], [&](std::uint64_t begin, std::uint64_t end) {
    for (std::uint64_t r = begin; r < end; ++r)
      abi::store(out[0], r, row_sum(x.data() + r * cols * sizeof(float), cols));
  });
}

sample known_answer() {
  // Row sums by hand, all exact in f32: 1+2+3+4 = 10; 0.5-0.25+0.125+100 = 100.375; -1+1-1+1 = 0.
  sample s;
  s.inputs = {abi::make_tensor<float>("x", dtype::f32, {3, 4}, {1, 2, 3, 4, 0.5f, -0.25f, 0.125f, 100, -1, 1, -1, 1})};
  s.expected = {abi::make_tensor<float>("s", dtype::f32, {3}, {10, 100.375f, 0})};
  return s;
}

sample generate(std::span<const std::uint64_t> dims, std::uint64_t seed, sample_data data) {
  const std::uint64_t rows = dims[0], cols = dims[1];
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> x(rows * cols);
  for (auto& v : x) v = dist(rng);
  if (data == sample_data::adversarial) {
    // Rows of their own: one NaN, +inf, -inf, +inf and -inf (NaN), overflow to inf, denormals only, -0 only.
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    for (std::uint64_t r = 0; r < rows && cols > 0; ++r) {
      float* row = x.data() + r * cols;
      switch (r % 8) {
        case 0:
          row[cols / 2] = nan;
          break;
        case 1:
          row[0] = inf;
          break;
        case 2:
          row[cols - 1] = -inf;
          break;
        case 3:
          row[0] = inf, row[cols - 1] = -inf;
          break;
        case 4:
          std::fill(row, row + cols, 3.0e38f);
          break;
        case 5:
          std::fill(row, row + cols, 1.0e-40f);
          break;
        case 6:
          std::fill(row, row + cols, -0.0f);
          break;
        default:
          break;
      }
    }
  }
  sample s;
  s.inputs = {abi::make_tensor("x", dtype::f32, {rows, cols}, x)};
  return s;
}

}  // namespace

const kernel_spec reduce_sum_spec{
    .name = "reduce_sum",
    .version = 1,
    .validation = validation_mode::tolerance,
    .rtol = 1e-5,
    .atol = 1e-2,
    .params = {},
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
    .dims_count = 2,
    .dims_doc = "{rows, cols}",
};

}  // namespace ec::kernels
