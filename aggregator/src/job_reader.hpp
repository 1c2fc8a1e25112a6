// The reader behind parse_job (job_spec.hpp): walks a job file's TOML, keeps the first problem with its line and
// field, and fills a job_spec. Internal to the aggregator; job_spec.cpp reads catalogue jobs, custom_job_spec.cpp
// the [custom] table and [[input_sets]]. Both include toml++ header-only with the same configuration.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ec/aggregator/job_spec.hpp"
#include "ec/aggregator/task_matching.hpp"
#include "ec/protocol/bytes.hpp"

#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 0
#define TOML_ENABLE_FORMATTERS 0
#include <toml++/toml.h>

namespace ec::aggregator::detail {

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
      } else if (key == "custom") {
        if (auto* t = table(node, key)) read_custom(*t, job);
      } else if (key == "input_sets") {
        read_input_sets(node, job);
      } else {
        problem(node, key, std::string("unknown ") + (node.is_table() ? "table" : "key"));
      }
    }
    if (job.kernel.empty() && first_.empty()) first_ = where_str(1) + "kernel: missing (the catalogue kernel to run)";
    if (first_.empty())
      job.kernel == custom_kernel_name ? check_custom_job(root, job) : check_against_kernel(root, job);
    if (first_.empty()) check_replicas(root, job);
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

  // One tensor's keys (dtype, shape, values or file; and its name inside an input set, where order matters).
  void read_tensor(const toml::table& tt, const toml::node& n, const std::string& field, bool named, input_tensor& in) {
    in.line = static_cast<int>(line_of(n));
    bool has_dtype = false, has_data = false;
    for (auto&& [tk, tn] : tt) {
      const std::string key(tk.str()), f = field + "." + key;
      if (key == "dtype") {
        has_dtype = dtype_of(tn, f, in.type);
      } else if (key == "name" && named) {
        string(tn, f, in.name);
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
        in.file = resolve(in.file);
      } else {
        problem(tn, f,
                std::string("unknown key (expected ") + (named ? "name, " : "") + "dtype, shape, values or file)");
      }
    }
    if (named && in.name.empty()) problem(n, field + ".name", "missing");
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
  }

  bool dtype_of(const toml::node& n, const std::string& field, protocol::dtype& out) {
    std::string s;
    if (!string(n, field, s)) return false;
    static constexpr protocol::dtype all[] = {protocol::dtype::u8,  protocol::dtype::u32, protocol::dtype::i32,
                                              protocol::dtype::u64, protocol::dtype::f32, protocol::dtype::f64};
    for (auto d : all)
      if (protocol::to_string(d) == s) {
        out = d;
        return true;
      }
    return problem(n, field, "unknown dtype '" + s + "' (u8, u32, i32, u64, f32, f64)");
  }

  std::string resolve(const std::string& file) const {
    if (base_dir_.empty() || file.empty() || file[0] == '/') return file;
    return std::string(base_dir_) + "/" + file;
  }

  // An array of tables, each handed to `each` with its field name ("custom.params[0]").
  template <typename F>
  void each_table(const toml::node& n, const std::string& field, F&& each) {
    const auto* a = n.as_array();
    if (!a) {
      problem(n, field, "must be an array of tables");
      return;
    }
    for (std::size_t i = 0; i < a->size(); ++i) {
      const auto& e = *a->get(i);
      const auto f = field + "[" + std::to_string(i) + "]";
      if (const auto* t = e.as_table())
        each(*t, e, f);
      else
        problem(e, f, "must be a table");
    }
  }

  template <typename T>
  bool size_list(const toml::node& n, const std::string& field, std::int64_t hi, std::vector<T>& out) {
    std::vector<std::uint64_t> v;
    if (!u64_list(n, field, v)) return false;
    if (v.size() > 3) return problem(n, field, "must have 1 to 3 dimensions, got " + std::to_string(v.size()));
    for (const auto d : v) {
      if (d > static_cast<std::uint64_t>(hi))
        return problem(n, field, "each entry must be at most " + std::to_string(hi));
      out.push_back(static_cast<T>(d));
    }
    return true;
  }

  bool hex_field(const toml::node& n, const std::string& field, std::size_t bytes, protocol::bytes& out) {
    std::string s;
    if (!string(n, field, s)) return false;
    if (s.size() != 2 * bytes || !protocol::from_hex(s, out))
      return problem(n, field, "must be " + std::to_string(2 * bytes) + " hex digits, as printed by edgectl sign-code");
    return true;
  }

  // Catalogue jobs (job_spec.cpp).
  void read_grid(const toml::table& t, job_spec& job);
  void read_inputs(const toml::table& t, job_spec& job);
  void read_split(const toml::table& t, job_spec& job);
  void read_image(const toml::table& t, job_spec& job);
  void check_against_kernel(const toml::table& root, job_spec& job);
  void check_replicas(const toml::table& root, const job_spec& job);

  // Custom jobs (custom_job_spec.cpp).
  void read_input_sets(const toml::node& n, job_spec& job);
  void read_custom(const toml::table& t, job_spec& job);
  typed_param read_typed_param(const toml::table& t, const toml::node& n, const std::string& field);
  declared_output read_output(const toml::table& t, const toml::node& n, const std::string& field);
  void check_custom_code(const toml::table& t, const custom_spec& c);
  void check_custom_job(const toml::table& root, const job_spec& job);
  void check_input_sets(const toml::table& root, const job_spec& job);

  std::string_view source_, base_dir_;
  std::string first_;
  bool explicit_split_ = false;
};

}  // namespace ec::aggregator::detail
