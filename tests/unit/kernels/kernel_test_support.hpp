// Helpers shared by the catalogue's tests: binding samples, running references under different thread splits,
// and reading float and integer outputs.
#pragma once

#include <doctest/doctest.h>

#include <bit>
#include <cstring>
#include <thread>
#include <vector>

#include "ec/kernels/catalog.hpp"
#include "ec/kernels/kernel_spec.hpp"
#include "ec/protocol/tolerance.hpp"

namespace ec::kernels::test {

inline std::vector<tensor_ref> refs(const std::vector<tensor>& ts) {
  std::vector<tensor_ref> r;
  for (const auto& t : ts) r.push_back(t.ref());
  return r;
}

inline result<bound_call> bind(const kernel_spec& k, const sample& s) { return k.bind(s.params, refs(s.inputs)); }

/// The bind error's message for a sample that must be refused (fails the test if it binds).
inline std::string bind_error(const kernel_spec& k, const sample& s) {
  auto c = bind(k, s);
  REQUIRE_FALSE(c.ok());
  CHECK(c.code() == error_code::invalid_argument);
  return c.err().message;
}

/// Binds (must succeed) and runs the reference.
inline std::vector<tensor> run(const kernel_spec& k, const sample& s, const parallel_for& pf = serial_for) {
  auto c = bind(k, s);
  REQUIRE_MESSAGE(c.ok(), (c.ok() ? std::string() : c.err().message));
  return run_reference(*c, pf);
}

/// A parallel_for that splits into ranges of 1, 2, 3, ... items run on concurrent threads.
inline void uneven_for(std::uint64_t count, const std::function<void(std::uint64_t, std::uint64_t)>& body) {
  std::vector<std::thread> threads;
  std::uint64_t begin = 0;
  for (std::uint64_t size = 1; begin < count; ++size) {
    const std::uint64_t end = std::min(count, begin + size);
    threads.emplace_back([&body, begin, end] { body(begin, end); });
    begin = end;
  }
  for (auto& t : threads) t.join();
}

/// Two threads, the first taking a single item (or none): a split at an odd boundary.
inline void lopsided_for(std::uint64_t count, const std::function<void(std::uint64_t, std::uint64_t)>& body) {
  const std::uint64_t cut = count > 1 ? 1 : 0;
  std::thread t([&] {
    if (cut > 0) body(0, cut);
  });
  if (count > cut) body(cut, count);
  t.join();
}

template <typename T>
std::vector<T> values(const tensor& t) {
  std::vector<T> v(t.data.size() / sizeof(T));
  if (!v.empty()) std::memcpy(v.data(), t.data.data(), t.data.size());
  return v;
}

inline param f32_param(std::string name, double v) { return {std::move(name), dtype::f32, 0, v}; }
inline param u32_param(std::string name, std::int64_t v) { return {std::move(name), dtype::u32, v, 0}; }
inline param i32_param(std::string name, std::int64_t v) { return {std::move(name), dtype::i32, v, 0}; }

/// Replaces (or adds) the param named like `p`.
inline void set_param(sample& s, param p) {
  for (auto& q : s.params)
    if (q.name == p.name) {
      q = std::move(p);
      return;
    }
  s.params.push_back(std::move(p));
}

/// Removes the param named `name`.
inline void drop_param(sample& s, std::string_view name) {
  std::erase_if(s.params, [&](const param& p) { return p.name == name; });
}

/// A one-element f32 tensor named `name`.
inline tensor abi_tensor_f32(std::string name) { return tensor{std::move(name), dtype::f32, {1}, protocol::bytes(4)}; }

/// True when the outputs agree by the kernel's validation rule.
inline bool agree(const kernel_spec& k, const std::vector<tensor>& got, const std::vector<tensor>& want) {
  if (got.size() != want.size()) return false;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (k.validation == validation_mode::exact) {
      if (got[i] != want[i]) return false;
    } else if (protocol::compare_tensors(got[i].ref(), want[i].ref(), k.rtol, k.atol)) {
      return false;
    }
  }
  return true;
}

}  // namespace ec::kernels::test
