// Parsing of catalogue job files (the reader's generic parts are in job_reader.hpp, custom jobs in
// custom_job_spec.cpp). toml++ is header-only, without exceptions, configured like agent/src/config_load.cpp so
// that every translation unit sees the same toml++ ABI.
#include "ec/aggregator/job_spec.hpp"

#include <limits>

#include "ec/aggregator/job_expansion.hpp"
#include "ec/kernels/catalog.hpp"
#include "job_reader.hpp"

namespace ec::aggregator {
namespace {

constexpr std::size_t max_job_bytes = 16 * 1024 * 1024;

}  // namespace

namespace detail {

void job_reader::read_grid(const toml::table& t, job_spec& job) {
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

void job_reader::read_inputs(const toml::table& t, job_spec& job) {
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
    read_tensor(*tt, n, field, false, in);
    job.inputs.push_back(std::move(in));
  }
}

void job_reader::read_split(const toml::table& t, job_spec& job) {
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

void job_reader::read_image(const toml::table& t, job_spec& job) {
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
void job_reader::check_against_kernel(const toml::table& root, job_spec& job) {
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
  if (job.split.kind == split_kind::image && !job.image) problem(*kn, "split.kind", "\"image\" needs an [image] table");
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
  if (job.custom) problem(*root.get("custom"), "custom", "a [custom] table needs kernel = \"custom\"");
  if (!job.input_sets.empty())
    problem(*root.get("input_sets"), "input_sets", "input sets are for custom jobs; use [inputs] and [split]");
}

void job_reader::check_replicas(const toml::table& root, const job_spec& job) {
  if (job.max_replicas < job.quorum) {
    const auto* at = root.get("max_replicas") ? root.get("max_replicas") : root.get("quorum");
    problem(*at, "max_replicas", "must be at least quorum (" + std::to_string(job.quorum) + ")");
  }
}

}  // namespace detail

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
  detail::job_reader reader(source, base_dir);
  return reader.read(parsed.table());
}

}  // namespace ec::aggregator
