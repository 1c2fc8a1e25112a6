#include "demo_checks.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <thread>

#include "ec/aggregator/job_spec.hpp"
#include "ec/aggregator/task_template.hpp"
#include "ec/kernels/catalog.hpp"
#include "ec/kernels/kernel_spec.hpp"
#include "ec/protocol/tolerance.hpp"
#include "png_writer.hpp"

namespace ec::demo {
namespace {

using protocol::dtype;

// The reference over every hardware thread, in small chunks taken in turn (Mandelbrot rows differ a lot in cost).
void threaded_for(std::uint64_t count, const std::function<void(std::uint64_t, std::uint64_t)>& body) {
  const std::uint64_t threads = std::max(1u, std::thread::hardware_concurrency());
  const std::uint64_t chunk = std::max<std::uint64_t>(1, count / (threads * 16));
  std::atomic<std::uint64_t> next{0};
  const auto work = [&] {
    for (std::uint64_t begin = next.fetch_add(chunk); begin < count; begin = next.fetch_add(chunk))
      body(begin, std::min(count, begin + chunk));
  };
  std::vector<std::thread> pool;
  for (std::uint64_t i = 1; i < threads; ++i) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
}

std::optional<std::int64_t> int_param(const std::vector<protocol::param>& params, std::string_view name) {
  for (const auto& p : params)
    if (p.name == name) return p.i;
  return std::nullopt;
}

// "<job_id>/<index>" -> index.
std::optional<std::uint64_t> unit_index(const std::string& wu_id) {
  const auto slash = wu_id.rfind('/');
  if (slash == std::string::npos || slash + 1 == wu_id.size()) return std::nullopt;
  std::uint64_t v = 0;
  for (std::size_t i = slash + 1; i < wu_id.size(); ++i) {
    if (wu_id[i] < '0' || wu_id[i] > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(wu_id[i] - '0');
  }
  return v;
}

result<std::vector<aggregator::work_unit_row>> validated_units(region_db& db, const std::string& job_id) {
  auto units = db.work_units(job_id);
  if (!units) return units.err();
  if (units->empty()) return fail(error_code::invalid_argument, "job " + job_id + " has no work units");
  std::size_t missing = 0;
  for (const auto& u : *units)
    if (u.state != aggregator::work_unit_state::validated) ++missing;
  if (missing > 0)
    return fail(error_code::invalid_argument, std::to_string(missing) + " of " + std::to_string(units->size()) +
                                                  " work units of " + job_id + " are not validated");
  return units;
}

// Palette: 0 is the set itself (black); 1..255 a blue-white-orange gradient over the escape count.
std::array<rgb, 256> mandelbrot_palette() {
  struct stop {
    double at;
    double r, g, b;
  };
  constexpr stop stops[] = {{0.0, 0, 7, 100},      {0.16, 32, 107, 203}, {0.42, 237, 255, 255},
                            {0.6425, 255, 170, 0}, {0.8575, 0, 2, 0},    {1.0, 0, 7, 100}};
  std::array<rgb, 256> p{};
  for (std::size_t i = 1; i < p.size(); ++i) {
    const double t = static_cast<double>(i - 1) / 254.0;
    std::size_t s = 0;
    while (s + 2 < std::size(stops) && t > stops[s + 1].at) ++s;
    const double f = (t - stops[s].at) / (stops[s + 1].at - stops[s].at);
    const auto mix = [f](double a, double b) { return static_cast<std::uint8_t>(std::lround(a + (b - a) * f)); };
    p[i] = {mix(stops[s].r, stops[s + 1].r), mix(stops[s].g, stops[s + 1].g), mix(stops[s].b, stops[s + 1].b)};
  }
  return p;
}

}  // namespace

result<mandelbrot_render> assemble_mandelbrot(region_db& db, const aggregator::job_row& job) {
  auto spec = aggregator::parse_job(job.spec, job.job_id);
  if (!spec) return spec.err();
  if (!spec->image) return fail(error_code::invalid_argument, job.job_id + " has no [image] table");
  auto units = validated_units(db, job.job_id);
  if (!units) return units.err();

  struct tile {
    std::int64_t x0, y0;
    const aggregator::work_unit_row* unit;
  };
  std::vector<tile> tiles;
  mandelbrot_render r;
  r.width = spec->image->width;
  r.height = spec->image->height;
  std::int64_t min_x = std::numeric_limits<std::int64_t>::max(), min_y = min_x;
  for (const auto& u : *units) {
    auto templ = aggregator::decode_task_template(u.payload);
    if (!templ) return templ.err();
    const auto x0 = int_param(templ->params, "x0"), y0 = int_param(templ->params, "y0");
    const auto dx = int_param(templ->params, "dx"), dy = int_param(templ->params, "dy");
    const auto max_iter = int_param(templ->params, "max_iter");
    if (!x0 || !y0 || !dx || !dy || !max_iter || *dx <= 0 || *dy <= 0)
      return fail(error_code::malformed, u.wu_id + ": not a Mandelbrot tile of a view");
    r.dx = static_cast<std::int32_t>(*dx);
    r.dy = static_cast<std::int32_t>(*dy);
    r.max_iter = static_cast<std::uint32_t>(*max_iter);
    min_x = std::min(min_x, *x0);
    min_y = std::min(min_y, *y0);
    tiles.push_back({*x0, *y0, &u});
  }
  r.x0 = static_cast<std::int32_t>(min_x);
  r.y0 = static_cast<std::int32_t>(min_y);
  r.counts.assign(std::size_t{r.width} * r.height, 0);
  for (const auto& t : tiles) {
    auto outputs = db.canonical_outputs(*t.unit);
    if (!outputs) return outputs.err();
    if (outputs->size() != 1 || (*outputs)[0].type != dtype::u32 || (*outputs)[0].shape.size() != 2)
      return fail(error_code::malformed, t.unit->wu_id + ": expected one u32 [height, width] output");
    const auto& counts = (*outputs)[0];
    const std::uint64_t h = counts.shape[0], w = counts.shape[1];
    const std::uint64_t px = static_cast<std::uint64_t>((t.x0 - min_x) / r.dx);
    const std::uint64_t py = static_cast<std::uint64_t>((t.y0 - min_y) / r.dy);
    if (px + w > r.width || py + h > r.height || counts.data.size() != 4 * w * h)
      return fail(error_code::malformed, t.unit->wu_id + ": tile outside the image");
    for (std::uint64_t y = 0; y < h; ++y)
      std::memcpy(&r.counts[(py + y) * r.width + px], counts.data.data() + 4 * y * w, 4 * w);
    ++r.tiles;
  }
  return r;
}

check_outcome check_mandelbrot(const mandelbrot_render& render) {
  const auto* spec = kernels::find_kernel("mandelbrot");
  const auto p = [](const char* name, dtype t, std::int64_t v) { return protocol::param{name, t, v, 0}; };
  const std::vector<protocol::param> params{p("x0", dtype::i32, render.x0),
                                            p("y0", dtype::i32, render.y0),
                                            p("dx", dtype::i32, render.dx),
                                            p("dy", dtype::i32, render.dy),
                                            p("width", dtype::u32, render.width),
                                            p("height", dtype::u32, render.height),
                                            p("max_iter", dtype::u32, render.max_iter)};
  auto call = spec->bind(params, {});
  if (!call) return {false, "the reference cannot bind the whole view: " + call.err().what()};
  const auto expected = kernels::run_reference(*call, threaded_for);
  const auto& ref = expected.at(0).data;
  if (ref.size() != 4 * render.counts.size()) return {false, "the reference has a different size"};
  std::uint64_t differ = 0;
  for (std::size_t i = 0; i < render.counts.size(); ++i) {
    std::uint32_t v = 0;
    std::memcpy(&v, ref.data() + 4 * i, 4);
    if (v != render.counts[i]) ++differ;
  }
  const std::string size = std::to_string(render.width) + "x" + std::to_string(render.height);
  if (differ != 0)
    return {false, std::to_string(differ) + " of " + std::to_string(render.counts.size()) +
                       " pixels differ from the CPU reference"};
  return {true, size + " from " + std::to_string(render.tiles) + " tiles, identical to the CPU reference (" +
                    std::to_string(render.counts.size()) + " pixels, exact)"};
}

std::string write_mandelbrot_png(const mandelbrot_render& render, const std::filesystem::path& path) {
  std::vector<std::uint8_t> indices(render.counts.size());
  const double scale = std::log(static_cast<double>(render.max_iter) + 1.0);
  for (std::uint32_t y = 0; y < render.height; ++y) {
    const std::size_t out_row = std::size_t{render.height - 1 - y} * render.width;  // imaginary axis up
    for (std::uint32_t x = 0; x < render.width; ++x) {
      const std::uint32_t n = render.counts[std::size_t{y} * render.width + x];
      std::uint8_t index = 0;
      if (n < render.max_iter) {
        const double t = std::log(static_cast<double>(n) + 1.0) / scale;  // in [0, 1)
        index = static_cast<std::uint8_t>(1 + std::min(253.0, std::floor(t * 254.0)));
      }
      indices[out_row + x] = index;
    }
  }
  return write_palette_png(path, render.width, render.height, indices, mandelbrot_palette());
}

result<sgemm_product> assemble_sgemm(region_db& db, const aggregator::job_row& job) {
  auto spec = aggregator::parse_job(job.spec, job.job_id);
  if (!spec) return spec.err();
  if (!spec->generate || spec->generate->dims.size() != 3)
    return fail(error_code::invalid_argument, job.job_id + ": the demo checks sgemm jobs with generated inputs only");
  auto units = validated_units(db, job.job_id);
  if (!units) return units.err();
  sgemm_product p;
  p.m = spec->generate->dims[0];
  p.n = spec->generate->dims[1];
  p.k = spec->generate->dims[2];
  p.c.assign(p.m * p.n, 0.0f);
  std::uint64_t tiles_per_row = 0;
  for (const auto& u : *units) {
    auto outputs = db.canonical_outputs(u);
    if (!outputs) return outputs.err();
    const auto index = unit_index(u.wu_id);
    if (!index || outputs->size() != 1 || (*outputs)[0].type != dtype::f32 || (*outputs)[0].shape.size() != 2)
      return fail(error_code::malformed, u.wu_id + ": expected one f32 [rows, cols] output tile");
    const auto& c = (*outputs)[0];
    const std::uint64_t h = c.shape[0], w = c.shape[1];
    if (tiles_per_row == 0) {  // unit 0 is a full tile: the expansion cuts from the top left corner
      p.tile_m = h;
      p.tile_n = w;
      tiles_per_row = (p.n + w - 1) / w;
    }
    const std::uint64_t i0 = (*index / tiles_per_row) * p.tile_m, j0 = (*index % tiles_per_row) * p.tile_n;
    if (i0 + h > p.m || j0 + w > p.n || c.data.size() != 4 * h * w)
      return fail(error_code::malformed, u.wu_id + ": tile outside the product");
    for (std::uint64_t i = 0; i < h; ++i) std::memcpy(&p.c[(i0 + i) * p.n + j0], c.data.data() + 4 * i * w, 4 * w);
    ++p.tiles;
  }
  return p;
}

check_outcome check_sgemm(const sgemm_product& product, const aggregator::job_row& job) {
  auto spec = aggregator::parse_job(job.spec, job.job_id);
  if (!spec || !spec->generate) return {false, "cannot read the job's generator"};
  const auto* kernel = kernels::find_kernel("sgemm");
  const auto sample = kernel->generate(spec->generate->dims, spec->generate->seed, kernels::sample_data::ordinary);
  // Parameters as the expansion sets them: generated, then the job's own (alpha).
  std::vector<protocol::param> params = sample.params;
  for (const auto& v : spec->params) {
    for (auto& p : params) {
      if (p.name == v.name) p.f = v.is_integer ? static_cast<double>(v.i) : v.f;
    }
  }
  std::vector<protocol::tensor_ref> inputs;
  for (const auto& name : {"a", "b"})
    for (const auto& t : sample.inputs)
      if (t.name == name) inputs.push_back(t.ref());
  auto call = kernel->bind(params, inputs);
  if (!call) return {false, "the reference cannot bind the whole product: " + call.err().what()};
  const auto expected = kernels::run_reference(*call, threaded_for);
  const double rtol = spec->rtol.value_or(kernel->rtol), atol = spec->atol.value_or(kernel->atol);
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(product.c.data());
  const protocol::tensor_ref got{"c", dtype::f32, {product.m, product.n}, {bytes, 4 * product.c.size()}};
  double max_abs = 0;
  for (std::size_t i = 0; i < product.c.size(); ++i) {
    float ref = 0;
    std::memcpy(&ref, expected.at(0).data.data() + 4 * i, 4);
    max_abs = std::max(max_abs, std::fabs(static_cast<double>(product.c[i]) - static_cast<double>(ref)));
  }
  char tol[160];
  std::snprintf(tol, sizeof tol, "(rtol %g, atol %g; max |diff| %.3g)", rtol, atol, max_abs);
  const std::string size = std::to_string(product.m) + "x" + std::to_string(product.n) + " (K " +
                           std::to_string(product.k) + ") from " + std::to_string(product.tiles) + " tiles of " +
                           std::to_string(product.tile_m) + "x" + std::to_string(product.tile_n);
  if (auto mismatch = protocol::compare_tensors(got, expected.at(0).ref(), rtol, atol))
    return {false, size + " differs from the CPU reference: " + mismatch->reason + " " + tol};
  return {true, size + ", within tolerance of the CPU reference " + tol};
}

std::string write_npy(const sgemm_product& product, const std::filesystem::path& path) {
  // NumPy format 1.0: magic, version, header length (LE u16), a dict padded with spaces to a 64-byte boundary.
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(product.m) + ", " +
                       std::to_string(product.n) + "), }";
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  const char preamble[8] = {'\x93', 'N', 'U', 'M', 'P', 'Y', 1, 0};
  const char length[2] = {static_cast<char>(header.size() & 0xff), static_cast<char>(header.size() >> 8)};
  out.write(preamble, sizeof preamble);
  out.write(length, sizeof length);
  out << header;
  out.write(reinterpret_cast<const char*>(product.c.data()), static_cast<std::streamsize>(4 * product.c.size()));
  if (!out) return "cannot write " + path.string();
  return {};
}

}  // namespace ec::demo
