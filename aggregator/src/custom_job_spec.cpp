// Parsing of custom kernel jobs (docs/jobs.md, "Custom kernels"): the [custom] table with the code files, entry,
// dispatch sizes, signature, params and outputs in binding order, and [[input_sets]]. TOML tables do not keep their
// keys' order, so everything whose order is a binding order is an array.
#include <algorithm>
#include <cctype>

#include "job_reader.hpp"

namespace ec::aggregator::detail {

// [[input_sets]] with `tensors` in binding order: toml tables do not keep their keys' order, arrays do.
void job_reader::read_input_sets(const toml::node& n, job_spec& job) {
  each_table(n, "input_sets", [&](const toml::table& set, const toml::node& sn, const std::string& f) {
    std::vector<input_tensor> tensors;
    for (auto&& [k, tn] : set) {
      if (k.str() != "tensors") {
        problem(tn, f + "." + std::string(k.str()), "unknown key (expected tensors)");
        continue;
      }
      each_table(tn, f + ".tensors", [&](const toml::table& tt, const toml::node& e, const std::string& tf) {
        input_tensor in;
        read_tensor(tt, e, tf, true, in);
        tensors.push_back(std::move(in));
      });
    }
    if (!set.contains("tensors")) problem(sn, f + ".tensors", "missing");
    job.input_sets.push_back(std::move(tensors));
  });
}

void job_reader::read_custom(const toml::table& t, job_spec& job) {
  custom_spec c;
  for (auto&& [k, n] : t) {
    const std::string key(k.str()), f = "custom." + key;
    if (key == "spirv" || key == "opencl") {
      if (string(n, f, key == "spirv" ? c.spirv_file : c.opencl_file))
        (key == "spirv" ? c.spirv_file : c.opencl_file) = resolve(key == "spirv" ? c.spirv_file : c.opencl_file);
    } else if (key == "entry") {
      string(n, f, c.entry);
    } else if (key == "local_size") {
      size_list(n, f, 65536, c.local_size);
    } else if (key == "global_size") {
      size_list(n, f, std::int64_t{1} << 32, c.global_size);
    } else if (key == "code_key_id") {
      hex_field(n, f, 32, c.code_key_id);
    } else if (key == "code_signature") {
      hex_field(n, f, 64, c.code_signature);
    } else if (key == "validation") {
      std::string s;
      if (!string(n, f, s)) continue;
      if (s == "tolerance")
        c.validation = protocol::validation_mode::tolerance;
      else if (s != "exact")
        problem(n, f, "must be \"exact\" or \"tolerance\", got \"" + s + "\"");
    } else if (key == "params") {
      each_table(n, f, [&](const toml::table& pt, const toml::node& e, const std::string& pf) {
        c.params.push_back(read_typed_param(pt, e, pf));
      });
    } else if (key == "outputs") {
      each_table(n, f, [&](const toml::table& ot, const toml::node& e, const std::string& of) {
        c.outputs.push_back(read_output(ot, e, of));
      });
    } else {
      problem(n, f,
              "unknown key (expected spirv, opencl, entry, local_size, global_size, code_key_id, code_signature, "
              "validation, params, outputs)");
    }
  }
  check_custom_code(t, c);
  job.custom = std::move(c);
}

typed_param job_reader::read_typed_param(const toml::table& t, const toml::node& n, const std::string& field) {
  typed_param p;
  bool has_type = false, has_value = false;
  for (auto&& [k, v] : t) {
    const std::string key(k.str()), f = field + "." + key;
    if (key == "name")
      string(v, f, p.value.name);
    else if (key == "dtype")
      has_type = dtype_of(v, f, p.type);
    else if (key == "value")
      has_value = value(v, f, p.value.name, p.value);
    else
      problem(v, f, "unknown key (expected name, dtype, value)");
  }
  if (p.value.name.empty()) problem(n, field + ".name", "missing");
  if (!has_type) problem(n, field + ".dtype", "missing");
  if (has_type && p.type == protocol::dtype::u8) problem(n, field + ".dtype", "u8 is not a parameter type");
  if (!has_value) problem(n, field + ".value", "missing");
  return p;
}

declared_output job_reader::read_output(const toml::table& t, const toml::node& n, const std::string& field) {
  declared_output o;
  bool has_type = false;
  for (auto&& [k, v] : t) {
    const std::string key(k.str()), f = field + "." + key;
    if (key == "name")
      string(v, f, o.name);
    else if (key == "dtype")
      has_type = dtype_of(v, f, o.type);
    else if (key == "shape")
      u64_list(v, f, o.shape);
    else
      problem(v, f, "unknown key (expected name, dtype, shape)");
  }
  if (o.name.empty()) problem(n, field + ".name", "missing");
  if (!has_type) problem(n, field + ".dtype", "missing");
  if (o.shape.empty()) problem(n, field + ".shape", "missing");
  return o;
}

// What can be said of the code without reading it; the signature itself is checked at expansion.
void job_reader::check_custom_code(const toml::table& t, const custom_spec& c) {
  if (c.spirv_file.empty() && c.opencl_file.empty())
    problem(t, "custom", "needs the code: spirv and/or opencl (file paths)");
  if (c.entry.empty()) problem(t, "custom.entry", "missing (the entry point / kernel name)");
  const bool identifier =
      !c.entry.empty() && c.entry.size() <= 128 && !std::isdigit(static_cast<unsigned char>(c.entry[0])) &&
      std::all_of(c.entry.begin(), c.entry.end(),
                  [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_'; });
  if (!c.entry.empty() && !identifier) problem(t, "custom.entry", "must be an identifier of at most 128 characters");
  if (c.code_key_id.empty() || c.code_signature.empty())
    problem(t, c.code_key_id.empty() ? "custom.code_key_id" : "custom.code_signature",
            "missing: unsigned code is refused; sign it with `edgectl sign-code` and copy both lines here");
  if (c.local_size.empty()) problem(t, "custom.local_size", "missing (1 to 3 dimensions)");
  if (c.global_size.empty()) problem(t, "custom.global_size", "missing (1 to 3 dimensions)");
  if (c.local_size.empty() || c.global_size.empty()) return;
  if (c.local_size.size() != c.global_size.size()) {
    problem(t, "custom.global_size",
            "has " + std::to_string(c.global_size.size()) + " dimensions, local_size has " +
                std::to_string(c.local_size.size()) + ": they must have the same rank");
    return;
  }
  for (std::size_t i = 0; i < c.local_size.size(); ++i) {
    if (c.global_size[i] % c.local_size[i] != 0)
      problem(t, "custom.global_size",
              "dimension " + std::to_string(i) + " (" + std::to_string(c.global_size[i]) +
                  ") is not a multiple of local_size (" + std::to_string(c.local_size[i]) + ")");
    else if (c.global_size[i] / c.local_size[i] > 65535)
      problem(t, "custom.global_size",
              "dimension " + std::to_string(i) + " needs more than 65535 workgroups (Vulkan's guaranteed limit)");
  }
  if (c.outputs.empty()) problem(t, "custom.outputs", "missing: custom code must declare at least one output");
}

// Custom code has no catalogue entry: its params, inputs and outputs are declared in binding order.
void job_reader::check_custom_job(const toml::table& root, const job_spec& job) {
  const auto* kn = root.get("kernel");
  if (!job.custom) {
    problem(*kn, "custom", "missing: kernel = \"custom\" needs a [custom] table with the code");
    return;
  }
  const auto refuse = [&](const char* key, const std::string& why) {
    if (const auto* n = root.get(key)) problem(*n, key, why);
  };
  refuse("params", "custom jobs declare params in custom.params (name, dtype, value), in binding order");
  refuse("inputs", "custom jobs list input tensors in [[input_sets]] (in binding order)");
  refuse("image", "an [image] job needs kernel = \"mandelbrot\"");
  if (job.split.kind != split_kind::none)
    refuse("split", "custom jobs make one unit per input set and grid point; split.kind must be \"none\"");
  for (const auto& g : job.grid) {
    const bool declared = std::any_of(job.custom->params.begin(), job.custom->params.end(),
                                      [&](const typed_param& p) { return p.value.name == g.name; });
    if (!declared)
      problem(*root.get("grid")->as_table()->get(g.name), "grid." + g.name,
              "not a param of custom.params (a grid sweeps a declared param)");
  }
  const bool tolerance = job.custom->validation == protocol::validation_mode::tolerance;
  if ((job.rtol || job.atol) && !tolerance)
    problem(*(root.get("rtol") ? root.get("rtol") : root.get("atol")), job.rtol ? "rtol" : "atol",
            "applies only with custom.validation = \"tolerance\"");
  if (tolerance && !job.rtol && !job.atol)
    problem(*root.get("custom"), "custom.validation", "\"tolerance\" needs rtol and/or atol");
  check_input_sets(root, job);
}

// Every set binds the same tensors in the same order: the code is the same for all of them.
void job_reader::check_input_sets(const toml::table& root, const job_spec& job) {
  if (job.input_sets.empty()) return;
  const auto& first = job.input_sets.front();
  for (std::size_t s = 1; s < job.input_sets.size(); ++s) {
    const auto& set = job.input_sets[s];
    bool same = set.size() == first.size();
    for (std::size_t i = 0; same && i < set.size(); ++i)
      same = set[i].name == first[i].name && set[i].type == first[i].type;
    if (!same)
      problem(*root.get("input_sets"), "input_sets[" + std::to_string(s) + "]",
              "must list the same tensors (names and dtypes, in order) as input_sets[0]");
  }
}

}  // namespace ec::aggregator::detail
