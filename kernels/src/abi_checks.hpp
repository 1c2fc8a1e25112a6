// Shared argument checks for the catalogue's bind() functions: find a param or tensor by name, check its dtype,
// range and shape, and read or write little-endian scalars without alignment assumptions.
#pragma once

#include <cstring>
#include <optional>
#include <span>
#include <string>

#include "ec/kernels/kernel_spec.hpp"

namespace ec::kernels::abi {

/// The param named like `spec`, checked against its dtype and range; an error names the param and the rule.
result<double> param_value(std::span<const param> params, const param_spec& spec);
/// The param as an unsigned integer (its spec must have an integer dtype).
result<std::uint32_t> param_u32(std::span<const param> params, const param_spec& spec);
/// The param as a signed 32-bit integer (its spec must have dtype i32 and a range inside int32).
result<std::int32_t> param_i32(std::span<const param> params, const param_spec& spec);
/// The param rounded to f32 (its spec's range must keep the rounded value finite).
result<float> param_f32(std::span<const param> params, const param_spec& spec);
/// The input named like `spec`, with its dtype checked and its rank equal to `rank`.
result<tensor_ref> input(std::span<const tensor_ref> inputs, const tensor_spec& spec, std::size_t rank);
/// Refuses names that the ABI does not know (a typo in a task must not be silently ignored).
result<void> no_unknown(std::span<const param> params, std::span<const param_spec> specs,
                        std::span<const tensor_ref> inputs, std::span<const tensor_spec> tensor_specs);
/// An output of `spec`'s dtype and `shape`, with its byte size checked for overflow.
result<output_spec> output(const tensor_spec& spec, std::vector<std::uint64_t> shape);
/// Fails when `n` exceeds `limit` (element counts that a 32-bit GPU index must reach).
result<void> at_most(std::string_view what, std::uint64_t n, std::uint64_t limit);

scalar_arg u32(std::string_view name, std::uint32_t v);
scalar_arg i32(std::string_view name, std::int32_t v);
scalar_arg f32(std::string_view name, float v);

/// Workgroups needed to cover `items` with `per_group` items each (at least 1).
std::uint64_t groups_for(std::uint64_t items, std::uint64_t per_group);

/// Element `i` of a little-endian buffer of T (memcpy: tensor data carries no alignment promise).
template <typename T>
T load(std::span<const std::uint8_t> data, std::uint64_t i) {
  T v;
  std::memcpy(&v, data.data() + i * sizeof(T), sizeof(T));
  return v;
}
template <typename T>
void store(std::span<std::byte> data, std::uint64_t i, T v) {
  std::memcpy(data.data() + i * sizeof(T), &v, sizeof(T));
}

/// A tensor of `type` and `shape` whose bytes are `values` (host order = little-endian on all targets).
template <typename T>
tensor make_tensor(std::string name, dtype type, std::vector<std::uint64_t> shape, const std::vector<T>& values) {
  tensor t{std::move(name), type, std::move(shape), {}};
  t.data.resize(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(t.data.data(), values.data(), t.data.size());
  return t;
}

}  // namespace ec::kernels::abi
