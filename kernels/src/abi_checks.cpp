// Argument checks shared by every kernel's bind(): clear errors that name the argument and the rule broken.
#include "abi_checks.hpp"

#include <algorithm>
#include <cmath>

namespace ec::kernels::abi {
namespace {

error bad(std::string message) { return fail(error_code::invalid_argument, std::move(message)); }

bool is_integer(dtype t) { return t == dtype::u8 || t == dtype::u32 || t == dtype::i32 || t == dtype::u64; }

std::string shape_string(std::span<const std::uint64_t> shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

result<double> param_value(std::span<const param> params, const param_spec& spec) {
  const auto it = std::find_if(params.begin(), params.end(), [&](const param& p) { return p.name == spec.name; });
  if (it == params.end()) return bad("missing param '" + std::string(spec.name) + "'");
  if (it->type != spec.type)
    return bad("param '" + std::string(spec.name) + "' must be " + std::string(protocol::to_string(spec.type)) +
               ", got " + std::string(protocol::to_string(it->type)));
  const double v = is_integer(spec.type) ? static_cast<double>(it->i) : it->f;
  if (!(v >= spec.min && v <= spec.max))  // also refuses NaN
    return bad("param '" + std::string(spec.name) + "' = " + std::to_string(v) + " is outside [" +
               std::to_string(spec.min) + ", " + std::to_string(spec.max) + "]");
  return v;
}

result<std::uint32_t> param_u32(std::span<const param> params, const param_spec& spec) {
  auto v = param_value(params, spec);
  if (!v) return v.err();
  if (!is_integer(spec.type) || *v < 0 || *v > 4294967295.0)
    return bad("param '" + std::string(spec.name) + "' is not a 32-bit unsigned integer");
  return static_cast<std::uint32_t>(*v);
}

result<std::int32_t> param_i32(std::span<const param> params, const param_spec& spec) {
  auto v = param_value(params, spec);
  if (!v) return v.err();
  if (spec.type != dtype::i32 || *v < -2147483648.0 || *v > 2147483647.0)
    return bad("param '" + std::string(spec.name) + "' is not a 32-bit signed integer");
  return static_cast<std::int32_t>(*v);
}

result<float> param_f32(std::span<const param> params, const param_spec& spec) {
  auto v = param_value(params, spec);
  if (!v) return v.err();
  const auto f = static_cast<float>(*v);
  if (spec.type != dtype::f32 || !std::isfinite(f))
    return bad("param '" + std::string(spec.name) + "' is not a finite 32-bit float");
  return f;
}

result<tensor_ref> input(std::span<const tensor_ref> inputs, const tensor_spec& spec, std::size_t rank) {
  const auto it = std::find_if(inputs.begin(), inputs.end(), [&](const tensor_ref& t) { return t.name == spec.name; });
  if (it == inputs.end()) return bad("missing input tensor '" + std::string(spec.name) + "'");
  if (std::count_if(inputs.begin(), inputs.end(), [&](const tensor_ref& t) { return t.name == spec.name; }) > 1)
    return bad("input tensor '" + std::string(spec.name) + "' given twice");
  if (it->type != spec.type)
    return bad("input '" + std::string(spec.name) + "' must be " + std::string(protocol::to_string(spec.type)) +
               ", got " + std::string(protocol::to_string(it->type)));
  if (it->shape.size() != rank)
    return bad("input '" + std::string(spec.name) + "' must have shape " + std::string(spec.shape_rule) + ", got " +
               shape_string(it->shape));
  const auto size = protocol::tensor_byte_size(it->type, it->shape);
  if (!size || *size != it->data.size())
    return bad("input '" + std::string(spec.name) + "': data is " + std::to_string(it->data.size()) +
               " bytes, dtype x shape " + shape_string(it->shape) + " says otherwise");
  return *it;
}

result<void> no_unknown(std::span<const param> params, std::span<const param_spec> specs,
                        std::span<const tensor_ref> inputs, std::span<const tensor_spec> tensor_specs) {
  for (const auto& p : params)
    if (std::none_of(specs.begin(), specs.end(), [&](const param_spec& s) { return s.name == p.name; }))
      return bad("unknown param '" + p.name + "'");
  for (const auto& t : inputs)
    if (std::none_of(tensor_specs.begin(), tensor_specs.end(), [&](const tensor_spec& s) { return s.name == t.name; }))
      return bad("unknown input tensor '" + std::string(t.name) + "'");
  return {};
}

result<output_spec> output(const tensor_spec& spec, std::vector<std::uint64_t> shape) {
  const auto size = protocol::tensor_byte_size(spec.type, shape);
  if (!size) return bad("output '" + std::string(spec.name) + "' size overflows");
  return output_spec{std::string(spec.name), spec.type, std::move(shape), *size};
}

result<void> at_most(std::string_view what, std::uint64_t n, std::uint64_t limit) {
  if (n > limit) return bad(std::string(what) + " = " + std::to_string(n) + " exceeds " + std::to_string(limit));
  return {};
}

scalar_arg u32(std::string_view name, std::uint32_t v) { return {name, scalar_kind::u32, v}; }
scalar_arg i32(std::string_view name, std::int32_t v) {
  return {name, scalar_kind::i32, static_cast<std::uint32_t>(v)};
}
scalar_arg f32(std::string_view name, float v) {
  std::uint32_t bits;
  std::memcpy(&bits, &v, 4);
  return {name, scalar_kind::f32, bits};
}

std::uint64_t groups_for(std::uint64_t items, std::uint64_t per_group) {
  return std::max<std::uint64_t>(1, (items + per_group - 1) / per_group);
}

}  // namespace ec::kernels::abi
