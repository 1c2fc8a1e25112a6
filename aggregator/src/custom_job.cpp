// Custom job expansion: the code is read and its signature checked once per job; every unit then carries the same
// CustomKernel with its own inputs, the declared outputs and the params of its grid point.
#include "ec/aggregator/custom_job.hpp"

#include <algorithm>

#include "ec/protocol/code_signature.hpp"
#include "ec/protocol/keys.hpp"
#include "ec/protocol/mbedtls_signer.hpp"

namespace ec::aggregator {
namespace {

error bad(std::string message) { return fail(error_code::invalid_argument, std::move(message)); }

result<std::string> read_text(const std::string& path, const file_reader& read) {
  auto data = read(path);
  if (!data) return data.err();
  return std::string(data->begin(), data->end());
}

// The declared params of one grid point, in binding order: a grid value replaces the declared one.
result<std::vector<protocol::param>> custom_params(const custom_spec& spec,
                                                   const std::vector<const param_value*>& point) {
  std::vector<protocol::param> out;
  for (const auto& declared : spec.params) {
    const param_value* chosen = &declared.value;
    for (const auto* p : point)
      if (p->name == declared.value.name) chosen = p;
    auto p = make_param(*chosen, declared.type);
    if (!p) return p.err();
    out.push_back(std::move(*p));
  }
  return out;
}

struct unit_builder {
  const job_spec& job;
  const protocol::custom_kernel& code;
  const std::string& job_id;
  const expansion_limits& limits;
  std::vector<work_unit> units;

  result<void> add(std::vector<protocol::param> params, std::vector<protocol::tensor> inputs, std::string label) {
    if (units.size() >= limits.max_units)
      return bad("job expands to more than " + std::to_string(limits.max_units) + " work units");
    protocol::task t;
    t.kernel = "custom";
    t.custom = code;
    t.params = std::move(params);
    t.inputs = std::move(inputs);
    std::vector<std::uint64_t> output_bytes;
    for (const auto& o : job.custom->outputs) {
      const auto bytes = protocol::tensor_byte_size(o.type, o.shape);
      if (!bytes) return bad("custom.outputs: '" + o.name + "' is too large");
      t.outputs.push_back({o.name, o.type, o.shape, {}});
      output_bytes.push_back(*bytes);
    }
    t.validation = job.custom->validation;
    t.rtol = job.rtol.value_or(0.0);
    t.atol = job.atol.value_or(0.0);
    t.max_runtime_ms = job.max_runtime_ms;
    auto u = make_work_unit(std::move(t), output_bytes, units.size(), job_id, std::move(label), limits,
                            "its task (code and inputs)", "use smaller input sets and outputs");
    if (!u) return u.err();
    u->cost = static_cast<double>(u->task.min_memory_bytes);  // no flop count for foreign code: bytes moved
    units.push_back(std::move(*u));
    return {};
  }
};

}  // namespace

result<std::unique_ptr<protocol::static_trust_store>> load_code_keys(const std::vector<std::string>& pem_files) {
  auto trust = std::make_unique<protocol::static_trust_store>(protocol::mbedtls_verifier_factory());
  for (const auto& path : pem_files) {
    auto key = protocol::public_key::load(path);
    if (!key) return error{key.err().code, "jobs.code_keys: " + path + ": " + key.err().message};
    trust->trust(*key, {protocol::message_kind::code});  // code only: a code key signs no message
  }
  return trust;
}

result<protocol::custom_kernel> load_custom_code(const custom_spec& spec, const protocol::trust_store* code_keys,
                                                 const file_reader& read) {
  protocol::custom_kernel c;
  if (!spec.spirv_file.empty()) {
    auto spirv = read(spec.spirv_file);
    if (!spirv) return fail(spirv.code(), "custom.spirv: " + spirv.err().message);
    if (spirv->empty() || spirv->size() % 4 != 0)
      return bad("custom.spirv: " + spec.spirv_file + " is not a whole number of 32-bit words");
    c.spirv = std::move(*spirv);
  }
  if (!spec.opencl_file.empty()) {
    auto source = read_text(spec.opencl_file, read);
    if (!source) return fail(source.code(), "custom.opencl: " + source.err().message);
    if (source->empty()) return bad("custom.opencl: " + spec.opencl_file + " is empty");
    c.opencl_c = std::move(*source);
  }
  c.entry = spec.entry;
  c.local_size = spec.local_size;
  c.global_size = spec.global_size;
  c.code_key_id = spec.code_key_id;
  c.code_signature = spec.code_signature;
  static const protocol::static_trust_store no_keys(protocol::mbedtls_verifier_factory());
  const auto& trust = code_keys != nullptr ? *code_keys : no_keys;
  protocol::key_id id{};
  if (spec.code_key_id.size() == id.size()) std::copy(spec.code_key_id.begin(), spec.code_key_id.end(), id.begin());
  if (trust.find(id, protocol::message_kind::code) == nullptr)
    return fail(error_code::untrusted_key,
                "custom.code_key_id: code key " + protocol::to_hex(spec.code_key_id).substr(0, 16) +
                    "... is not one of the aggregator's jobs.code_keys (custom jobs are refused when that list is "
                    "empty)");
  if (auto v = protocol::verify_code({c.spirv, c.opencl_c, c.entry}, c.code_key_id, c.code_signature, trust); !v)
    return fail(v.code(), "custom.code_signature: " + v.err().message +
                              " (sign exactly these files and this entry with edgectl sign-code)");
  return c;
}

result<std::vector<work_unit>> expand_custom_job(const job_spec& job, const std::string& job_id,
                                                 const protocol::trust_store* code_keys, const expansion_limits& limits,
                                                 const file_reader& read) {
  if (!job.custom) return bad("not a custom job: no [custom] table");
  auto code = load_custom_code(*job.custom, code_keys, read);
  if (!code) return code.err();
  std::vector<std::vector<protocol::tensor>> sets;
  for (const auto& set : job.input_sets) {
    std::vector<protocol::tensor> tensors;
    for (const auto& in : set) {
      auto t = make_input_tensor(in, read);
      if (!t) return t.err();
      tensors.push_back(std::move(*t));
    }
    sets.push_back(std::move(tensors));
  }
  if (sets.empty()) sets.emplace_back();  // code that only writes its outputs
  unit_builder b{job, *code, job_id, limits, {}};
  // Grid points (the cartesian product, last axis fastest), each run over every input set.
  std::vector<std::size_t> at(job.grid.size(), 0);
  for (;;) {
    std::vector<const param_value*> point;
    std::string where;
    for (std::size_t i = 0; i < job.grid.size(); ++i) {
      point.push_back(&job.grid[i].values[at[i]]);
      where += " " + job.grid[i].name + "=" + std::to_string(at[i]);
    }
    auto params = custom_params(*job.custom, point);
    if (!params) return params.err();
    for (std::size_t s = 0; s < sets.size(); ++s)
      if (auto r = b.add(*params, sets[s], "input set " + std::to_string(s) + where); !r) return r.err();
    std::size_t i = job.grid.size();
    while (i > 0 && ++at[i - 1] == job.grid[i - 1].values.size()) at[--i] = 0;
    if (i == 0) break;
  }
  return std::move(b.units);
}

}  // namespace ec::aggregator
