// Job expansion: parameters, inputs and the split strategy give candidate units; each is bound with the kernel's
// bind() (which checks the ABI and yields the outputs) and measured against the message cap.
#include "ec/aggregator/job_expansion.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>

#include "ec/aggregator/custom_job.hpp"
#include "ec/kernels/catalog.hpp"

namespace ec::aggregator {
namespace {

using protocol::dtype;
using protocol::tensor;

error bad(std::string message) { return fail(error_code::invalid_argument, std::move(message)); }

constexpr std::uint64_t table_margin = 1024;  // params, names, shapes and FlatBuffers alignment of one Task
constexpr std::int64_t q28_one = std::int64_t{1} << 28;

bool is_float(dtype t) { return t == dtype::f32 || t == dtype::f64; }

// An integral value inside the dtype's range.
bool integer_fits(dtype t, double v) {
  if (v != std::floor(v)) return false;
  switch (t) {
    case dtype::u8:
      return v >= 0 && v <= 255;
    case dtype::u32:
      return v >= 0 && v <= 4294967295.0;
    case dtype::i32:
      return v >= -2147483648.0 && v <= 2147483647.0;
    case dtype::u64:
      return v >= 0 && v < 18446744073709551616.0;
    default:
      return true;
  }
}

template <typename T>
void put(protocol::bytes& out, T v) {
  const auto at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &v, sizeof(T));
}

}  // namespace

result<protocol::param> make_param(const param_value& v, protocol::dtype type) {
  protocol::param p{v.name, type, 0, 0.0};
  if (is_float(type)) {
    p.f = v.f;
  } else {
    if (!v.is_integer)
      return bad("param '" + v.name + "' has dtype " + std::string(protocol::to_string(type)) +
                 " and needs an integer, got " + std::to_string(v.f));
    if (!integer_fits(type, static_cast<double>(v.i)))
      return bad("param '" + v.name + "' = " + std::to_string(v.i) + " is out of range for " +
                 std::string(protocol::to_string(type)));
    p.i = v.i;
  }
  return p;
}

result<tensor> make_input_tensor(const input_tensor& in, const file_reader& read) {
  tensor t{in.name, in.type, in.shape, {}};
  const auto size = protocol::tensor_byte_size(in.type, in.shape);
  const std::string where = "input '" + in.name + "' (line " + std::to_string(in.line) + ")";
  if (!size) return bad(where + ": shape is too large");
  if (in.origin == tensor_origin::file) {
    auto data = read(in.file);
    if (!data) return fail(data.code(), where + ": " + data.err().message);
    if (data->size() != *size)
      return bad(where + ": file " + in.file + " has " + std::to_string(data->size()) + " bytes, " +
                 std::string(protocol::to_string(in.type)) + " of this shape needs " + std::to_string(*size));
    t.data = std::move(*data);
    return t;
  }
  t.data.reserve(*size);
  for (const double v : in.values) {
    if (!is_float(in.type) && !integer_fits(in.type, v))
      return bad(where + ": value " + std::to_string(v) + " is not a valid " +
                 std::string(protocol::to_string(in.type)));
    switch (in.type) {
      case dtype::u8:
        put(t.data, static_cast<std::uint8_t>(v));
        break;
      case dtype::u32:
        put(t.data, static_cast<std::uint32_t>(v));
        break;
      case dtype::i32:
        put(t.data, static_cast<std::int32_t>(v));
        break;
      case dtype::u64:
        put(t.data, static_cast<std::uint64_t>(v));
        break;
      case dtype::f32:
        put(t.data, static_cast<float>(v));
        break;
      case dtype::f64:
        put(t.data, v);
        break;
    }
  }
  return t;
}

namespace {

// Rows [r0, r1) of a tensor's first axis.
tensor slice_rows(const tensor& t, std::uint64_t r0, std::uint64_t r1) {
  const std::uint64_t row = t.data.size() / t.shape[0];
  tensor s{t.name, t.type, t.shape, {}};
  s.shape[0] = r1 - r0;
  s.data.assign(t.data.begin() + static_cast<std::ptrdiff_t>(r0 * row),
                t.data.begin() + static_cast<std::ptrdiff_t>(r1 * row));
  return s;
}

// Columns [c0, c1) of a 2-D tensor.
tensor slice_cols(const tensor& t, std::uint64_t c0, std::uint64_t c1) {
  const std::uint64_t es = protocol::dtype_size(t.type), cols = t.shape[1];
  tensor s{t.name, t.type, {t.shape[0], c1 - c0}, {}};
  s.data.resize(t.shape[0] * (c1 - c0) * es);
  for (std::uint64_t r = 0; r < t.shape[0]; ++r)
    std::memcpy(s.data.data() + r * (c1 - c0) * es, t.data.data() + (r * cols + c0) * es, (c1 - c0) * es);
  return s;
}

std::uint64_t down_to(std::uint64_t v, std::uint64_t multiple, std::uint64_t whole) {
  return v >= whole ? whole : (v > multiple ? v - v % multiple : v);
}

class expander {
 public:
  expander(const job_spec& job, const kernels::kernel_spec& spec, std::string job_id, const expansion_limits& limits)
      : job_(job), spec_(spec), job_id_(std::move(job_id)), limits_(limits) {}

  // Budgets for tensor bytes in one Task and in one Result.
  [[nodiscard]] std::uint64_t input_budget() const {
    const auto reserved = limits_.task_overhead + table_margin;
    return limits_.max_payload > reserved ? limits_.max_payload - reserved : 0;
  }
  [[nodiscard]] std::uint64_t output_budget() const {
    const auto reserved = limits_.result_overhead + table_margin;
    return limits_.max_payload > reserved ? limits_.max_payload - reserved : 0;
  }

  // Binds one candidate unit, checks that it fits, and appends it.
  result<void> add(std::vector<protocol::param> params, std::vector<tensor> inputs, std::string label) {
    if (units_.size() >= limits_.max_units)
      return bad("job expands to more than " + std::to_string(limits_.max_units) + " work units; use larger tiles");
    std::vector<protocol::tensor_ref> refs;
    for (const auto& t : inputs) refs.push_back(t.ref());
    auto call = spec_.bind(params, refs);
    if (!call) return bad("work unit " + std::to_string(units_.size()) + " (" + label + "): " + call.err().message);
    protocol::task t;
    t.kernel = std::string(spec_.name);
    t.kernel_version = spec_.version;
    t.params = std::move(params);
    t.inputs = std::move(inputs);
    std::vector<std::uint64_t> output_bytes;
    for (const auto& o : call->outputs) {
      t.outputs.push_back({o.name, o.type, o.shape, {}});
      output_bytes.push_back(o.bytes);
    }
    t.validation = spec_.validation;
    t.rtol = job_.rtol.value_or(spec_.rtol);
    t.atol = job_.atol.value_or(spec_.atol);
    t.max_runtime_ms = job_.max_runtime_ms;
    auto u = make_work_unit(std::move(t), output_bytes, units_.size(), job_id_, std::move(label), limits_, "its task",
                            hint());
    if (!u) return u.err();
    u->cost = call->flops > 0 ? call->flops : static_cast<double>(call->bytes_moved);
    units_.push_back(std::move(*u));
    return {};
  }

  std::string hint() const {
    switch (job_.split.kind) {
      case split_kind::rows:
        return "use fewer rows per unit (split.rows) or smaller inputs";
      case split_kind::tiles:
        return "use smaller tiles (split.tile_m, split.tile_n)";
      case split_kind::image:
        return "use smaller tiles (image.tile_width, image.tile_height)";
      case split_kind::none:
        break;
    }
    return "split the job (split.kind = \"rows\" where the kernel allows it) or use smaller inputs";
  }

  result<void> none(const std::vector<protocol::param>& params, const std::vector<tensor>& inputs) {
    return add(params, inputs, "whole");
  }

  // Every tensor of the ABI shares its first axis: rows are independent.
  result<void> rows(const std::vector<protocol::param>& params, const std::vector<tensor>& inputs) {
    if (!splits_by_rows(spec_))
      return bad("kernel '" + std::string(spec_.name) +
                 "' cannot be split by rows: its tensors do not share a first axis");
    if (inputs.empty() || inputs[0].shape.empty()) return bad("split by rows needs input tensors");
    const std::uint64_t total = inputs[0].shape[0];
    std::uint64_t in_row = 0;
    for (const auto& t : inputs) {
      if (t.shape.empty() || t.shape[0] != total)
        return bad("split by rows needs every input to have " + std::to_string(total) + " rows; '" + t.name +
                   "' differs");
      in_row += t.data.size() / total;
    }
    // Output bytes per row, from a bound single-row unit (the kernel's bind() is the authority on outputs).
    std::vector<tensor> one;
    for (const auto& t : inputs) one.push_back(slice_rows(t, 0, 1));
    std::vector<protocol::tensor_ref> refs;
    for (const auto& t : one) refs.push_back(t.ref());
    auto call = spec_.bind(params, refs);
    if (!call) return bad("work unit 0 (rows 0..1): " + call.err().message);
    std::uint64_t out_row = 0;
    for (const auto& o : call->outputs) out_row += o.bytes;
    std::uint64_t per = job_.split.rows;
    if (per == 0) {
      per = std::min(in_row ? input_budget() / in_row : total, out_row ? output_budget() / out_row : total);
      per = down_to(std::min(per, total), 256, total);
      if (per == 0)
        return fail(error_code::too_large, "one row needs " + std::to_string(in_row) + " input and " +
                                               std::to_string(out_row) +
                                               " output bytes: no unit fits the message cap of " +
                                               std::to_string(limits_.max_payload) + " bytes");
    }
    for (std::uint64_t r0 = 0; r0 < total; r0 += per) {
      const std::uint64_t r1 = std::min(total, r0 + per);
      std::vector<tensor> part;
      for (const auto& t : inputs) part.push_back(slice_rows(t, r0, r1));
      if (auto r = add(params, std::move(part), "rows " + std::to_string(r0) + ".." + std::to_string(r1)); !r) return r;
    }
    return {};
  }

  // sgemm: output tile [i0, i1) x [j0, j1) from rows i0..i1 of a and columns j0..j1 of b.
  result<void> tiles(const std::vector<protocol::param>& params, const std::vector<tensor>& inputs) {
    if (inputs.size() != 2 || inputs[0].shape.size() != 2 || inputs[1].shape.size() != 2)
      return bad("sgemm tiles need inputs a [M, K] and b [K, N]");
    const tensor& a = inputs[0].name == "a" ? inputs[0] : inputs[1];
    const tensor& b = inputs[0].name == "a" ? inputs[1] : inputs[0];
    const std::uint64_t m = a.shape[0], k = a.shape[1], n = b.shape[1];
    if (b.shape[0] != k)
      return bad("a is [" + std::to_string(m) + ", " + std::to_string(k) + "] but b has " + std::to_string(b.shape[0]) +
                 " rows: the inner dimensions must match");
    const std::uint64_t es = 4, in_budget = input_budget(), out_budget = output_budget();
    std::uint64_t tm = job_.split.tile_m, tn = job_.split.tile_n;
    if (tm == 0 || tn == 0) {
      if (2 * es * k > in_budget)
        return fail(error_code::too_large,
                    "sgemm with K = " + std::to_string(k) +
                        ": even a 1x1 output tile needs a row of a and a column of "
                        "b (" +
                        std::to_string(2 * es * k) + " bytes), more than the " + std::to_string(in_budget) +
                        " bytes a task may carry under the message cap of " + std::to_string(limits_.max_payload));
      const auto t = std::max<std::uint64_t>(
          1, std::min(in_budget / (2 * es * k),
                      static_cast<std::uint64_t>(std::sqrt(static_cast<double>(out_budget / es)))));
      if (tm == 0) tm = down_to(std::min(m, t), 64, m);
      if (tn == 0) {
        const std::uint64_t by_in = in_budget / (es * k) > tm ? in_budget / (es * k) - tm : 1;
        tn = down_to(std::min({n, by_in, out_budget / (es * tm)}), 64, n);
      }
      tn = std::max<std::uint64_t>(tn, 1);
    }
    for (std::uint64_t i0 = 0; i0 < m; i0 += tm) {
      const std::uint64_t i1 = std::min(m, i0 + tm);
      const tensor a_rows = slice_rows(a, i0, i1);
      for (std::uint64_t j0 = 0; j0 < n; j0 += tn) {
        const std::uint64_t j1 = std::min(n, j0 + tn);
        std::vector<tensor> part{a_rows, slice_cols(b, j0, j1)};
        const auto label = "c rows " + std::to_string(i0) + ".." + std::to_string(i1) + " cols " + std::to_string(j0) +
                           ".." + std::to_string(j1);
        if (auto r = add(params, std::move(part), label); !r) return r;
      }
    }
    return {};
  }

  // mandelbrot: pixel (px, py) of the image is (X0 + px*DX, Y0 + py*DY) in Q3.28, so tiles reproduce the whole
  // image exactly, pixel for pixel.
  result<void> image(std::vector<protocol::param> params) {
    const image_spec& img = *job_.image;
    const auto q = [](double v) { return static_cast<std::int64_t>(std::llround(v * static_cast<double>(q28_one))); };
    const std::int64_t x0 = q(img.x_min), y0 = q(img.y_min);
    const std::int64_t dx = q((img.x_max - img.x_min) / img.width), dy = q((img.y_max - img.y_min) / img.height);
    if (dx == 0 || dy == 0) return bad("image: the pixel step rounds to 0 in Q3.28; use a wider view or fewer pixels");
    std::uint64_t tw = img.tile_width, th = img.tile_height;
    const std::uint64_t pixels = output_budget() / 4;
    if (pixels == 0) return fail(error_code::too_large, "no mandelbrot pixel fits the message cap");
    if (tw == 0)
      tw = down_to(
          std::min<std::uint64_t>(img.width, static_cast<std::uint64_t>(std::sqrt(static_cast<double>(pixels)))), 16,
          img.width);
    if (th == 0) th = down_to(std::min<std::uint64_t>(img.height, pixels / tw), 16, img.height);
    std::uint32_t max_iter = img.max_iter;
    for (auto it = params.begin(); it != params.end();) {
      if (it->name == "max_iter") {
        max_iter = static_cast<std::uint32_t>(std::clamp<std::int64_t>(it->i, 0, 1 << 30));
        it = params.erase(it);
      } else if (it->name != "max_iter") {
        return bad("params." + it->name + ": set by the [image] table for each tile");
      }
    }
    const auto i32 = [](const char* name, std::int64_t v) { return protocol::param{name, dtype::i32, v, 0}; };
    const auto u32 = [](const char* name, std::int64_t v) { return protocol::param{name, dtype::u32, v, 0}; };
    for (std::uint64_t ty = 0; ty < img.height; ty += th) {
      const std::uint64_t h = std::min<std::uint64_t>(th, img.height - ty);
      for (std::uint64_t tx = 0; tx < img.width; tx += tw) {
        const std::uint64_t w = std::min<std::uint64_t>(tw, img.width - tx);
        std::vector<protocol::param> p{i32("x0", x0 + static_cast<std::int64_t>(tx) * dx),
                                       i32("y0", y0 + static_cast<std::int64_t>(ty) * dy),
                                       i32("dx", dx),
                                       i32("dy", dy),
                                       u32("width", static_cast<std::int64_t>(w)),
                                       u32("height", static_cast<std::int64_t>(h)),
                                       u32("max_iter", max_iter)};
        const auto label = "tile x=" + std::to_string(tx) + ".." + std::to_string(tx + w) + " y=" + std::to_string(ty) +
                           ".." + std::to_string(ty + h);
        if (auto r = add(std::move(p), {}, label); !r) return r;
      }
    }
    return {};
  }

  std::vector<work_unit> take() { return std::move(units_); }

 private:
  const job_spec& job_;
  const kernels::kernel_spec& spec_;
  std::string job_id_;
  const expansion_limits& limits_;
  std::vector<work_unit> units_;
};

// Params for one grid point: generated < job params < grid values, in the ABI's order.
result<std::vector<protocol::param>> params_for(const kernels::kernel_spec& spec,
                                                const std::vector<protocol::param>& generated, const job_spec& job,
                                                const std::vector<const param_value*>& point) {
  std::vector<protocol::param> out;
  for (const auto& ps : spec.params) {
    const param_value* chosen = nullptr;
    for (const auto& p : job.params)
      if (p.name == ps.name) chosen = &p;
    for (const auto* p : point)
      if (p->name == ps.name) chosen = p;
    if (chosen) {
      auto p = make_param(*chosen, ps.type);
      if (!p) return p.err();
      out.push_back(std::move(*p));
      continue;
    }
    for (const auto& g : generated)
      if (g.name == ps.name) out.push_back(g);
  }
  return out;
}

}  // namespace

bool splits_by_rows(const kernels::kernel_spec& spec) {
  const auto first = [](std::string_view rule) { return rule.substr(1, rule.find_first_of(",]") - 1); };
  if (spec.inputs.empty()) return false;
  const auto axis = first(spec.inputs[0].shape_rule);
  for (const auto& s : spec.inputs)
    if (first(s.shape_rule) != axis) return false;
  for (const auto& s : spec.outputs)
    if (first(s.shape_rule) != axis) return false;
  return true;
}

result<protocol::bytes> read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(error_code::io_error, "cannot open " + path);
  protocol::bytes data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return fail(error_code::io_error, "cannot read " + path);
  return data;
}

result<work_unit> make_work_unit(protocol::task task, const std::vector<std::uint64_t>& output_bytes,
                                 std::uint64_t index, const std::string& job_id, std::string label,
                                 const expansion_limits& limits, std::string_view task_holds, std::string_view hint) {
  work_unit u;
  u.index = index;
  u.unit_id = job_id + "/" + std::to_string(index);
  u.label = std::move(label);
  u.task = std::move(task);
  auto& t = u.task;
  t.task_id = u.unit_id;
  t.job_id = job_id;
  std::uint64_t memory = 0;
  for (const auto& in : t.inputs) {
    memory += in.data.size();
    u.largest_tensor_bytes = std::max<std::uint64_t>(u.largest_tensor_bytes, in.data.size());
  }
  for (const auto bytes : output_bytes) {
    memory += bytes;
    u.largest_tensor_bytes = std::max(u.largest_tensor_bytes, bytes);
  }
  t.min_memory_bytes = memory;
  u.task_bytes = protocol::build(t).size() + limits.task_overhead;
  u.result_bytes = result_wire_bound(t.outputs, limits.result_overhead);
  if (u.task_bytes > limits.max_payload || u.result_bytes > limits.max_payload)
    return fail(error_code::too_large, "work unit " + std::to_string(u.index) + " (" + u.label +
                                           ") cannot fit the message cap of " + std::to_string(limits.max_payload) +
                                           " bytes: " + std::string(task_holds) + " needs " +
                                           std::to_string(u.task_bytes) + " and its result " +
                                           std::to_string(u.result_bytes) + " bytes; " + std::string(hint));
  return u;
}

std::uint64_t result_wire_bound(const std::vector<protocol::tensor>& declared_outputs, std::uint64_t overhead) {
  std::uint64_t n = overhead;
  for (const auto& o : declared_outputs)
    n += protocol::tensor_byte_size(o.type, o.shape).value_or(UINT64_MAX / 4) + o.name.size() + 16 +
         8 * o.shape.size() + 64;
  return n;
}

std::string replica_task_id(const std::string& unit_id, std::uint32_t replica) {
  return unit_id + "/r" + std::to_string(replica);
}

protocol::task issue_task(const work_unit& unit, std::uint32_t replica, std::uint32_t attempt,
                          const std::string& agent_id, std::uint64_t issued_at_ms, std::uint64_t expires_at_ms) {
  protocol::task t = unit.task;
  t.task_id = replica_task_id(unit.unit_id, replica);
  t.attempt = attempt;
  t.agent_id = agent_id;
  t.issued_at_ms = issued_at_ms;
  t.expires_at_ms = expires_at_ms;
  return t;
}

result<std::vector<work_unit>> expand_job(const job_spec& job, const std::string& job_id,
                                          const expansion_limits& limits, const file_reader& read) {
  // Without code keys every custom job is refused (edgectl passes the configured ones to expand_custom_job).
  if (job.custom) return expand_custom_job(job, job_id, nullptr, limits, read);
  const auto* spec = kernels::find_kernel(job.kernel);
  if (!spec) return bad("unknown kernel '" + job.kernel + "'");
  std::vector<protocol::param> generated;
  std::vector<tensor> inputs;
  if (job.generate) {
    if (job.generate->dims.size() != spec->dims_count)
      return bad("inputs.generate.dims: kernel '" + job.kernel + "' takes " + std::string(spec->dims_doc));
    auto s =
        spec->generate(job.generate->dims, job.generate->seed,
                       job.generate->adversarial ? kernels::sample_data::adversarial : kernels::sample_data::ordinary);
    generated = std::move(s.params);
    inputs = std::move(s.inputs);
  }
  for (const auto& in : job.inputs) {
    auto t = make_input_tensor(in, read);
    if (!t) return t.err();
    inputs.push_back(std::move(*t));
  }
  // Inputs in the ABI's order, so that every unit's Task lists them as bind() expects to bind them.
  std::stable_sort(inputs.begin(), inputs.end(), [&](const tensor& x, const tensor& y) {
    auto pos = [&](const std::string& name) {
      for (std::size_t i = 0; i < spec->inputs.size(); ++i)
        if (spec->inputs[i].name == name) return i;
      return spec->inputs.size();
    };
    return pos(x.name) < pos(y.name);
  });

  expander ex(job, *spec, job_id, limits);
  // Grid points: the cartesian product, last axis fastest.
  std::vector<std::size_t> at(job.grid.size(), 0);
  for (;;) {
    std::vector<const param_value*> point;
    for (std::size_t i = 0; i < job.grid.size(); ++i) point.push_back(&job.grid[i].values[at[i]]);
    auto params = params_for(*spec, generated, job, point);
    if (!params) return params.err();
    result<void> r;
    switch (job.split.kind) {
      case split_kind::none:
        r = ex.none(*params, inputs);
        break;
      case split_kind::rows:
        r = ex.rows(*params, inputs);
        break;
      case split_kind::tiles:
        r = ex.tiles(*params, inputs);
        break;
      case split_kind::image:
        if (!job.image) return bad("split.kind = \"image\" needs an [image] table");
        r = ex.image(*params);
        break;
    }
    if (!r) return r.err();
    std::size_t i = job.grid.size();
    while (i > 0 && ++at[i - 1] == job.grid[i - 1].values.size()) at[--i] = 0;
    if (i == 0) break;
  }
  return ex.take();
}

}  // namespace ec::aggregator
