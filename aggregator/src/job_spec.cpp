// Parsing of job files. The aggregator's only translation unit that includes toml++ (header-only, no exceptions),
// configured like agent/src/config_load.cpp so that both see the same toml++ ABI.
#include "ec/aggregator/job_spec.hpp"

#include <cmath>
#include <limits>

#include "ec/aggregator/job_expansion.hpp"
#include "ec/kernels/catalog.hpp"

#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 0
#define TOML_ENABLE_FORMATTERS 0
#include <toml++/toml.h>

namespace ec::aggregator {
namespace {

constexpr std::size_t max_job_bytes = 16 * 1024 * 1024;

class job_reader {
 public:
  job_reader(std::string_view source, std::string_view base_dir) : source_(source), base_dir_(base_dir) {}

  result<job_spec> read(const toml::table& root) {
    job_spec job;
    for (auto&& [k, node] : root) {
      const std::string key(k.str());
      if (key == "name") {
        string(node, key, job.name);
      } else if (key == "kernel") {
        string(node, key, job.kernel);
      } else if (key == "quorum") {
        unsigned_in(node, key, 1, 64, job.quorum);
      } else if (key == "max_replicas") {
        unsigned_in(node, key, 1, 1000, job.max_replicas);
      } else if (key == "max_attempts") {
        unsigned_in(node, key, 1, 1000, job.max_attempts);
      } else if (key == "deadline_s") {
        std::uint64_t v = 0;
        if (integer_in(node, key, 1, 365LL * 86400, v)) job.deadline_s = v;
      } else if (key == "priority") {
        std::int64_t v = 0;
        if (signed_in(node, key, -1000000, 1000000, v)) job.priority = static_cast<std::int32_t>(v);
      } else if (key == "max_runtime_ms") {
        unsigned_in(node, key, 1, 24u * 3600 * 1000, job.max_runtime_ms);
      } else if (key == "rtol" || key == "atol") {
        double v = 0;
        if (number(node, key, v) && check(node, key, v >= 0 && std::isfinite(v), "must be a finite number >= 0"))
          (key == "rtol" ? job.rtol : job.atol) = v;
      } else if (key == "params") {
        if (auto* t = table(node, key))
          for (auto&& [pk, pn] : *t) {
            param_value p;
            if (value(pn, "params." + std::string(pk.str()), std::string(pk.str()), p)) job.params.push_back(p);
          }
      } else if (key == "grid") {
        if (auto* t = table(node, key)) read_grid(*t, job);
      } else if (key == "inputs") {
        if (auto* t = table(node, key)) read_inputs(*t, job);
      } else if (key == "split") {
        if (auto* t = table(node, key)) read_split(*t, job);
      } else if (key == "image") {
        if (auto* t = table(node, key)) read_image(*t, job);
      } else {
        problem(node, key, std::string("unknown ") + (node.is_table() ? "table" : "key"));
      }
    }
    if (job.kernel.empty() && first_.empty()) first_ = where_str(1) + "kernel: missing (the catalogue kernel to run)";
    if (first_.empty()) check_against_kernel(root, job);
    if (!first_.empty()) return fail(error_code::invalid_argument, first_);
    return job;
  }

 private:
  std::string where_str(std::int64_t line) const {
    const auto l = std::to_string(line);
    return (source_.empty() ? "line " + l : std::string(source_) + ":" + l) + ": ";
  }
  std::int64_t line_of(const toml::node& n) const { return static_cast<std::int64_t>(n.source().begin.line); }

  // Keeps the first problem: later ones are often consequences of it.
  bool problem(const toml::node& n, const std::string& field, const std::string& what) {
    if (first_.empty()) first_ = where_str(line_of(n)) + field + ": " + what;
    return false;
  }
  bool check(const toml::node& n, const std::string& field, bool ok, const std::string& what) {
    return ok || problem(n, field, what);
  }

  bool string(const toml::node& n, const std::string& field, std::string& out) {
    if (!n.is_string()) return problem(n, field, "must be a string");
    out = std::string(*n.value<std::string_view>());
    return true;
  }
  bool number(const toml::node& n, const std::string& field, double& out) {
    if (n.is_integer()) {
      out = static_cast<double>(*n.value<std::int64_t>());
      return true;
    }
    if (!n.is_floating_point()) return problem(n, field, "must be a number");
    out = *n.value<double>();
    return true;
  }
  bool signed_in(const toml::node& n, const std::string& field, std::int64_t lo, std::int64_t hi, std::int64_t& out) {
    if (!n.is_integer()) return problem(n, field, "must be an integer");
    const auto v = *n.value<std::int64_t>();
    if (v < lo || v > hi)
      return problem(n, field,
                     "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " + std::to_string(v));
    out = v;
    return true;
  }
  // `lo` >= 0: the value fits unsigned.
  bool integer_in(const toml::node& n, const std::string& field, std::int64_t lo, std::int64_t hi, std::uint64_t& out) {
    std::int64_t v = 0;
    if (!signed_in(n, field, lo, hi, v)) return false;
    out = static_cast<std::uint64_t>(v);
    return true;
  }
  bool unsigned_in(const toml::node& n, const std::string& field, std::int64_t lo, std::int64_t hi,
                   std::uint32_t& out) {
    std::uint64_t v = 0;
    if (!integer_in(n, field, lo, hi, v)) return false;
    out = static_cast<std::uint32_t>(v);
    return true;
  }
  bool u64_list(const toml::node& n, const std::string& field, std::vector<std::uint64_t>& out) {
    const auto* a = n.as_array();
    if (!a || a->empty()) return problem(n, field, "must be a non-empty array of integers");
    for (auto&& e : *a) {
      if (!e.is_integer() || *e.value<std::int64_t>() < 1)
        return problem(e, field, "each entry must be an integer >= 1");
      out.push_back(static_cast<std::uint64_t>(*e.value<std::int64_t>()));
    }
    return true;
  }
  const toml::table* table(const toml::node& n, const std::string& field) {
    if (const auto* t = n.as_table()) return t;
    problem(n, field, "must be a table");
    return nullptr;
  }
  bool value(const toml::node& n, const std::string& field, const std::string& name, param_value& out) {
    out.name = name;
    if (n.is_integer()) {
      out.is_integer = true;
      out.i = *n.value<std::int64_t>();
      out.f = static_cast<double>(out.i);
      return true;
    }
    if (n.is_floating_point()) {
      out.f = *n.value<double>();
      return true;
    }
    return problem(n, field, "must be a number");
  }

  void read_grid(const toml::table& t, job_spec& job) {
    for (auto&& [k, n] : t) {
      const std::string name(k.str()), field = "grid." + name;
      const auto* a = n.as_array();
      if (!a || a->empty()) {
        problem(n, field, "must be a non-empty array of numbers");
        continue;
      }
      grid_axis axis{name, {}};
      for (auto&& e : *a) {
        param_value p;
        if (value(e, field, name, p)) axis.values.push_back(p);
      }
      job.grid.push_back(std::move(axis));
    }
  }

  void read_inputs(const toml::table& t, job_spec& job) {
    for (auto&& [k, n] : t) {
      const std::string name(k.str());
      if (name == "generate") {
        const auto* g = table(n, "inputs.generate");
        if (!g) continue;
        generated_input gen;
        for (auto&& [gk, gn] : *g) {
          const std::string f = "inputs.generate." + std::string(gk.str());
          if (gk.str() == "dims") {
            u64_list(gn, f, gen.dims);
          } else if (gk.str() == "seed") {
            if (!gn.is_integer() || *gn.value<std::int64_t>() < 0)
              problem(gn, f, "must be an integer >= 0");
            else
              gen.seed = static_cast<std::uint64_t>(*gn.value<std::int64_t>());
          } else if (gk.str() == "adversarial") {
            if (!gn.is_boolean())
              problem(gn, f, "must be true or false");
            else
              gen.adversarial = *gn.value<bool>();
          } else {
            problem(gn, f, "unknown key (expected dims, seed, adversarial)");
          }
        }
        if (gen.dims.empty()) problem(n, "inputs.generate.dims", "missing");
        job.generate = gen;
        continue;
      }
      const std::string field = "inputs." + name;
      const auto* tt = table(n, field);
      if (!tt) continue;
      input_tensor in;
      in.name = name;
      in.line = static_cast<int>(line_of(n));
      bool has_dtype = false, has_data = false;
      for (auto&& [tk, tn] : *tt) {
        const std::string key(tk.str()), f = field + "." + key;
        if (key == "dtype") {
          std::string s;
          if (!string(tn, f, s)) continue;
          has_dtype = true;
          static constexpr protocol::dtype all[] = {protocol::dtype::u8,  protocol::dtype::u32, protocol::dtype::i32,
                                                    protocol::dtype::u64, protocol::dtype::f32, protocol::dtype::f64};
          bool found = false;
          for (auto d : all)
            if (protocol::to_string(d) == s) in.type = d, found = true;
          if (!found) problem(tn, f, "unknown dtype '" + s + "' (u8, u32, i32, u64, f32, f64)");
        } else if (key == "shape") {
          u64_list(tn, f, in.shape);
        } else if (key == "values") {
          const auto* a = tn.as_array();
          if (!a) {
            problem(tn, f, "must be an array of numbers");
            continue;
          }
          has_data = true;
          in.origin = tensor_origin::values;
          for (auto&& e : *a) {
            double v = 0;
            if (number(e, f, v)) in.values.push_back(v);
          }
        } else if (key == "file") {
          if (!string(tn, f, in.file)) continue;
          has_data = true;
          in.origin = tensor_origin::file;
          if (!base_dir_.empty() && !in.file.empty() && in.file[0] != '/')
            in.file = std::string(base_dir_) + "/" + in.file;
        } else {
          problem(tn, f, "unknown key (expected dtype, shape, values or file)");
        }
      }
      if (!has_dtype) problem(n, field + ".dtype", "missing");
      if (!has_data) problem(n, field, "needs `values` or `file`");
      if (in.shape.empty() && in.origin == tensor_origin::values) in.shape = {in.values.size()};
      if (in.shape.empty()) problem(n, field + ".shape", "missing");
      if (in.origin == tensor_origin::values) {
        std::uint64_t count = 1;
        for (auto d : in.shape) count *= d;
        if (count != in.values.size())
          problem(n, field + ".values",
                  "has " + std::to_string(in.values.size()) + " values, shape needs " + std::to_string(count));
      }
      job.inputs.push_back(std::move(in));
    }
  }

  void read_split(const toml::table& t, job_spec& job) {
    for (auto&& [k, n] : t) {
      const std::string key(k.str()), f = "split." + key;
      if (key == "kind") {
        std::string s;
        if (!string(n, f, s)) continue;
        if (s == "none")
          job.split.kind = split_kind::none;
        else if (s == "rows")
          job.split.kind = split_kind::rows;
        else if (s == "tiles")
          job.split.kind = split_kind::tiles;
        else if (s == "image")
          job.split.kind = split_kind::image;
        else
          problem(n, f, "must be \"none\", \"rows\", \"tiles\" or \"image\", got \"" + s + "\"");
        explicit_split_ = true;
      } else if (key == "rows") {
        integer_in(n, f, 1, std::numeric_limits<std::int32_t>::max(), job.split.rows);
      } else if (key == "tile_m") {
        integer_in(n, f, 1, 1 << 20, job.split.tile_m);
      } else if (key == "tile_n") {
        integer_in(n, f, 1, 1 << 20, job.split.tile_n);
      } else {
        problem(n, f, "unknown key (expected kind, rows, tile_m, tile_n)");
      }
    }
  }

  void read_image(const toml::table& t, job_spec& job) {
    image_spec img;
    bool w = false, h = false;
    for (auto&& [k, n] : t) {
      const std::string key(k.str()), f = "image." + key;
      if (key == "width")
        w = unsigned_in(n, f, 1, 1 << 20, img.width);
      else if (key == "height")
        h = unsigned_in(n, f, 1, 1 << 20, img.height);
      else if (key == "max_iter")
        unsigned_in(n, f, 1, 65536, img.max_iter);
      else if (key == "tile_width")
        unsigned_in(n, f, 1, 65536, img.tile_width);
      else if (key == "tile_height")
        unsigned_in(n, f, 1, 65536, img.tile_height);
      else if (key == "x_min" || key == "x_max" || key == "y_min" || key == "y_max") {
        double v = 0;
        if (!number(n, f, v)) continue;
        if (!check(n, f, v >= -4.0 && v <= 4.0, "must be in [-4, 4] (Q3.28 fixed point)")) continue;
        (key == "x_min" ? img.x_min : key == "x_max" ? img.x_max : key == "y_min" ? img.y_min : img.y_max) = v;
      } else {
        problem(n, f,
                "unknown key (expected width, height, x_min, x_max, y_min, y_max, max_iter, tile_width, "
                "tile_height)");
      }
    }
    if (!w) problem(t, "image.width", "missing");
    if (!h) problem(t, "image.height", "missing");
    check(t, "image.x_max", img.x_max > img.x_min, "must be greater than x_min");
    check(t, "image.y_max", img.y_max > img.y_min, "must be greater than y_min");
    job.image = img;
    if (!explicit_split_) job.split.kind = split_kind::image;
  }

  // Cross-field rules that need the catalogue: the kernel exists, params are its own, the split suits it.
  void check_against_kernel(const toml::table& root, job_spec& job) {
    const auto* kn = root.get("kernel");
    const auto* spec = kernels::find_kernel(job.kernel);
    if (!spec) {
      std::string known;
      for (const auto* k : kernels::catalog()) known += (known.empty() ? "" : ", ") + std::string(k->name);
      problem(*kn, "kernel", "unknown kernel '" + job.kernel + "' (known: " + known + ")");
      return;
    }
    auto known_param = [&](const std::string& name) {
      for (const auto& p : spec->params)
        if (p.name == name) return true;
      return false;
    };
    auto check_params = [&](const char* table_name, const std::vector<std::string>& names) {
      const auto* t = root.get(table_name);
      for (const auto& name : names)
        if (!known_param(name))
          problem(*t->as_table()->get(name), std::string(table_name) + "." + name,
                  "kernel '" + job.kernel + "' has no param '" + name + "'");
    };
    std::vector<std::string> names;
    for (const auto& p : job.params) names.push_back(p.name);
    check_params("params", names);
    names.clear();
    for (const auto& g : job.grid) names.push_back(g.name);
    check_params("grid", names);
    const bool tolerance = spec->validation == protocol::validation_mode::tolerance;
    if ((job.rtol || job.atol) && !tolerance)
      problem(*(root.get("rtol") ? root.get("rtol") : root.get("atol")), job.rtol ? "rtol" : "atol",
              "kernel '" + job.kernel + "' is validated exactly; a tolerance does not apply");
    if (job.image && spec->name != "mandelbrot")
      problem(*root.get("image"), "image", "an [image] job needs kernel = \"mandelbrot\"");
    if (job.split.kind == split_kind::image && !job.image)
      problem(*kn, "split.kind", "\"image\" needs an [image] table");
    if (job.split.kind == split_kind::tiles && spec->name != "sgemm")
      problem(*kn, "split.kind", "\"tiles\" applies to sgemm only");
    if (spec->name == "mandelbrot" && !job.image)
      problem(*kn, "image", "a mandelbrot job needs an [image] table (width, height, ...)");
    if (spec->name == "sgemm" && !explicit_split_) job.split.kind = split_kind::tiles;
    if (!explicit_split_ && splits_by_rows(*spec)) job.split.kind = split_kind::rows;
    if (job.split.kind == split_kind::rows && !splits_by_rows(*spec))
      problem(*kn, "split.kind",
              "kernel '" + job.kernel + "' cannot be split by rows: its tensors do not share a first axis");
    if (job.generate && !job.inputs.empty())
      problem(*root.get("inputs"), "inputs", "give either inputs.generate or named input tensors, not both");
    if (job.generate && job.generate->dims.size() != spec->dims_count)
      problem(*root.get("inputs"), "inputs.generate.dims",
              "kernel '" + job.kernel + "' takes " + std::to_string(spec->dims_count) + " dims " +
                  std::string(spec->dims_doc));
    if (job.max_replicas < job.quorum) {
      const auto* at = root.get("max_replicas") ? root.get("max_replicas") : root.get("quorum");
      problem(*at, "max_replicas", "must be at least quorum (" + std::to_string(job.quorum) + ")");
    }
  }

  std::string_view source_, base_dir_;
  std::string first_;
  bool explicit_split_ = false;
};

}  // namespace

result<job_spec> parse_job(std::string_view toml_text, std::string_view source, std::string_view base_dir) {
  if (toml_text.size() > max_job_bytes)
    return fail(error_code::too_large, "job file is larger than " + std::to_string(max_job_bytes) + " bytes");
  auto parsed = toml::parse(toml_text, source);
  if (!parsed) {
    const auto& e = parsed.error();
    const auto at = std::to_string(e.source().begin.line) + ":" + std::to_string(e.source().begin.column);
    return fail(error_code::invalid_argument,
                (source.empty() ? "line " + at : std::string(source) + ":" + at) + ": " + std::string(e.description()));
  }
  job_reader reader(source, base_dir);
  return reader.read(parsed.table());
}

}  // namespace ec::aggregator
