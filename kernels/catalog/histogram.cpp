// histogram: counts of f32 values in equal-width bins, validated exactly (u32 counts are order-independent).
//
// ABI: params lo, hi (f32 after rounding, finite, normal or zero, lo < hi), bins (u32, 1..4096); input x [n]
// (f32, n <= 2^31, n = 0 gives zero counts); output counts [bins] (u32); scalars n, bins (u32), lo, hi, scale
// (f32) where scale = bins / (hi - lo) is computed by bind() in double and rounded to f32 (it must be a normal
// f32): the device never divides, and a division would be inexact on GPUs. local 256x1; groups
// {ceil(bins/256), 1}: group g owns bins 256g..256g+255 and scans all of x (the output is not pre-zeroed and
// a dispatch has no global barrier, so groups cannot share counters). Bin of a value v, on every backend:
//   NaN: not counted;  subnormal v: treated as +0;  v < lo: 0;  v >= hi: bins-1 (so -inf: 0, +inf: bins-1);
//   else d = v - lo in f32, flushed to 0 when subnormal; bin = min(floor(d * scale), bins-1) in f32.
// Every f32 operation is an IEEE add/mul/floor on normal numbers or zero: bit-identical despite GPUs that
// flush denormals (the flushes are explicit bit tests).
#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <mutex>
#include <random>

#include "../src/abi_checks.hpp"
#include "catalog_entries.hpp"

namespace ec::kernels {
namespace {

constexpr std::uint32_t spirv_words[] = {
#include "histogram.spv.inc"
};
constexpr std::string_view opencl_c =
#include "histogram.cl.inc"
    ;
constexpr std::string_view glsl =
#include "histogram.comp.inc"
    ;

constexpr std::uint64_t max_elements = std::uint64_t{1} << 31;
constexpr std::uint32_t owned_bins = 256;  // bins per workgroup = local.x

constexpr param_spec params[] = {
    {"lo", dtype::f32, -3.4e38, 3.4e38, "lower edge of bin 0 (values below count in bin 0)"},
    {"hi", dtype::f32, -3.4e38, 3.4e38, "upper edge of the last bin (values at or above count in it)"},
    {"bins", dtype::u32, 1, 4096, "number of bins"},
};
constexpr tensor_spec inputs[] = {{"x", dtype::f32, "[n]"}};
constexpr tensor_spec outputs[] = {{"counts", dtype::u32, "[bins]"}};
constexpr std::string_view scalars[] = {"n", "bins", "lo", "hi", "scale"};
constexpr local_size local{owned_bins, 1};

error bad(std::string message) { return fail(error_code::invalid_argument, std::move(message)); }
bool subnormal(float v) { return v != 0.0f && std::fpclassify(v) == FP_SUBNORMAL; }

// bins / (hi - lo) as a normal f32, or an error naming the rule (lo and hi are finite f32 here).
result<float> bin_scale(float lo, float hi, std::uint32_t bins) {
  if (subnormal(lo) || subnormal(hi)) return bad("lo and hi must not be subnormal (GPUs flush them to 0)");
  if (!(lo < hi)) return bad("lo = " + std::to_string(lo) + " must be less than hi = " + std::to_string(hi));
  const auto scale = static_cast<float>(bins / (static_cast<double>(hi) - static_cast<double>(lo)));
  if (!std::isnormal(scale))
    return bad("bins / (hi - lo) = " + std::to_string(scale) + " is not a normal f32: the range is too wide or narrow");
  return scale;
}

result<bound_call> bind(std::span<const param> ps, std::span<const tensor_ref> ins) {
  if (auto r = abi::no_unknown(ps, params, ins, inputs); !r) return r.err();
  auto lo = abi::param_f32(ps, params[0]);
  if (!lo) return lo.err();
  auto hi = abi::param_f32(ps, params[1]);
  if (!hi) return hi.err();
  auto bins = abi::param_u32(ps, params[2]);
  if (!bins) return bins.err();
  auto scale = bin_scale(*lo, *hi, *bins);
  if (!scale) return scale.err();
  auto x = abi::input(ins, inputs[0], 1);
  if (!x) return x.err();
  const std::uint64_t n = x->shape[0];
  if (auto r = abi::at_most("n", n, max_elements); !r) return r.err();
  auto counts = abi::output(outputs[0], {*bins});
  if (!counts) return counts.err();

  bound_call c;
  c.spec = &histogram_spec;
  c.inputs = {*x};
  c.scalars = {abi::u32("n", static_cast<std::uint32_t>(n)), abi::u32("bins", *bins), abi::f32("lo", *lo),
               abi::f32("hi", *hi), abi::f32("scale", *scale)};
  c.outputs = {std::move(*counts)};
  c.groups = {abi::groups_for(*bins, owned_bins), 1};
  c.bytes_moved = 4 * (n + *bins);
  c.flops = 0;  // classification, not arithmetic throughput
  return c;
}

struct binning {
  std::uint32_t bins;
  float lo, hi, scale;
};

float flush(float v) { return (std::bit_cast<std::uint32_t>(v) & 0x7f800000u) == 0 ? 0.0f : v; }
bool is_nan(float v) { return (std::bit_cast<std::uint32_t>(v) & 0x7fffffffu) > 0x7f800000u; }

// The ABI's bin of a non-NaN value (the GPU kernels' bin_of, operation for operation).
std::uint32_t bin_of(float v, const binning& b) {
  v = flush(v);
  if (v < b.lo) return 0;
  if (v >= b.hi) return b.bins - 1;
  const float t = std::floor(flush(v - b.lo) * b.scale);  // -ffp-contract=off: rounded like the GPUs
  return static_cast<std::uint32_t>(std::min(t, static_cast<float>(b.bins - 1)));
}

void reference(const bound_call& c, std::span<const std::span<std::byte>> out, const parallel_for& pf) {
  const binning b{c.scalars[1].bits, std::bit_cast<float>(c.scalars[2].bits), std::bit_cast<float>(c.scalars[3].bits),
                  std::bit_cast<float>(c.scalars[4].bits)};
  const std::uint64_t n = c.scalars[0].bits;
  constexpr std::uint64_t chunk = 1 << 16;  // per-range histograms are merged: keep ranges coarse
  std::vector<std::uint32_t> total(b.bins, 0);
  std::mutex merge;
  pf((n + chunk - 1) / chunk, [&](std::uint64_t begin, std::uint64_t end) {
    std::vector<std::uint32_t> mine(b.bins, 0);
    for (std::uint64_t i = begin * chunk; i < std::min(end * chunk, n); ++i) {
      const float v = abi::load<float>(c.inputs[0].data, i);
      if (!is_nan(v)) ++mine[bin_of(v, b)];
    }
    const std::lock_guard lock(merge);
    for (std::uint32_t k = 0; k < b.bins; ++k) total[k] += mine[k];
  });
  for (std::uint32_t k = 0; k < b.bins; ++k) abi::store(out[0], k, total[k]);
}

sample known_answer() {
  // lo = -4, hi = 4, 8 bins of width 1 (scale 1): bin = floor(v + 4), by hand:
  //  0, 0.5, -1e-40 (subnormal: 0), -0 -> 4;  1 -> 5;  -1.5 -> 2;  3.999, 4 (= hi), 5, +inf -> 7;
  //  -4 (= lo) -> 0;  -5, -inf -> 0;  NaN -> not counted.
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  sample s;
  s.params = {{"lo", dtype::f32, 0, -4.0}, {"hi", dtype::f32, 0, 4.0}, {"bins", dtype::u32, 8, 0}};
  s.inputs = {abi::make_tensor<float>("x", dtype::f32, {14},
                                      {0, 0.5f, 1, -1.5f, 3.999f, 4, 5, -4, -5, nan, inf, -inf, -1e-40f, -0.0f})};
  s.expected = {abi::make_tensor<std::uint32_t>("counts", dtype::u32, {8}, {3, 0, 1, 0, 4, 1, 0, 4})};
  return s;
}

sample generate(std::span<const std::uint64_t> dims, std::uint64_t seed, sample_data data) {
  const std::uint64_t n = dims[0];
  const auto bins = static_cast<std::int64_t>(std::clamp<std::uint64_t>(dims[1], 1, 4096));
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, 0.5f);  // some mass beyond [-1, 1): the clamping is exercised
  std::vector<float> x(n);
  for (auto& v : x) v = dist(rng);
  double lo = -1, hi = 1;
  if (data == sample_data::adversarial) {
    // An inexact width and scale, values on and next to every edge, and every special class.
    lo = -0.1, hi = 0.7;
    const float flo = static_cast<float>(lo), fhi = static_cast<float>(hi);
    const float specials[] = {std::numeric_limits<float>::quiet_NaN(),
                              std::numeric_limits<float>::infinity(),
                              -std::numeric_limits<float>::infinity(),
                              3.0e38f,
                              -3.0e38f,
                              1.0e-40f,
                              -1.0e-40f,
                              -0.0f,
                              flo,
                              fhi,
                              std::nextafter(fhi, 0.0f),
                              std::nextafter(flo, -1.0f)};
    for (std::uint64_t i = 0; i < n; i += 3) x[i] = specials[(i / 3) % std::size(specials)];
    for (std::uint64_t i = 1; i < n; i += 3)  // edges of interior bins
      x[i] = flo + static_cast<float>(i % static_cast<std::uint64_t>(bins)) * ((fhi - flo) / static_cast<float>(bins));
  }
  sample s;
  s.params = {{"lo", dtype::f32, 0, lo}, {"hi", dtype::f32, 0, hi}, {"bins", dtype::u32, bins, 0}};
  s.inputs = {abi::make_tensor("x", dtype::f32, {n}, x)};
  return s;
}

}  // namespace

const kernel_spec histogram_spec{
    .name = "histogram",
    .version = 1,
    .validation = validation_mode::exact,
    .rtol = 0,
    .atol = 0,
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
    .dims_count = 2,
    .dims_doc = "{n, bins}",
};

}  // namespace ec::kernels
