// A custom kernel call (protocol.md, "Custom kernels"): signed code from a task, its declared local and global
// sizes, and its tensors and scalars in binding order. custom_binding turns it into a run-time kernel_spec and
// bound_call so that each backend runs custom code through the same checked path as catalogue kernels.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "ec/kernels/kernel_spec.hpp"

namespace ec::backends {

/// Custom code as the task carries it (views into the task blob). Either code may be empty, not both.
struct custom_code {
  protocol::byte_span spirv;  // a whole number of 32-bit words (admission checks), any alignment
  std::string_view opencl_c;  // OpenCL C source
  std::string_view entry;     // SPIR-V entry point / OpenCL kernel name
  std::uint32_t dims = 1;     // 1, 2 or 3; entries from `dims` on are ignored (taken as 1)
  std::array<std::uint32_t, 3> local{1, 1, 1};
  std::array<std::uint64_t, 3> global{1, 1, 1};  // multiples of local (admission checks)

  /// The local size in dimension d (1 past `dims`).
  [[nodiscard]] std::uint32_t local_in(std::size_t d) const { return d < dims ? local[d] : 1; }
  /// Workgroups in dimension d: global / local (1 past `dims` or for a zero local size, which admission refuses).
  [[nodiscard]] std::uint64_t groups_in(std::size_t d) const {
    return d < dims && local[d] != 0 ? global[d] / local[d] : 1;
  }
};

/// One call of custom code: inputs then outputs bind to set 0 bindings / kernel arguments 0..n-1, then scalars.
struct custom_call {
  custom_code code;
  std::vector<protocol::tensor_ref> inputs;
  std::vector<kernels::scalar_arg> scalars;  // 4 or 8 bytes each (scalar_bytes); names may be empty
  std::vector<kernels::output_spec> outputs;
};

/// Owns a kernel_spec describing a custom call, and the bound_call that runs it; not copyable (the call points
/// at the spec). The spec's name is the entry point, its SPIR-V a word-aligned copy of the task's bytes.
class custom_binding {
 public:
  explicit custom_binding(const custom_call& c) : words_((c.code.spirv.size() + 3) / 4, 0), names_(c.scalars.size()) {
    if (!c.code.spirv.empty()) std::memcpy(words_.data(), c.code.spirv.data(), c.code.spirv.size());
    entry_ = std::string(c.code.entry);
    for (const auto& t : c.inputs) inputs_.push_back({t.name, t.type, "[declared]"});
    for (const auto& o : c.outputs) outputs_.push_back({o.name, o.type, "[declared]"});
    for (std::size_t i = 0; i < names_.size(); ++i) names_[i] = "p" + std::to_string(i);
    for (const auto& n : names_) name_views_.push_back(n);
    spec_.name = entry_;
    spec_.version = 0;  // never a catalogue version
    spec_.inputs = inputs_;
    spec_.outputs = outputs_;
    spec_.scalar_names = name_views_;
    spec_.local = {c.code.local_in(0), c.code.local_in(1), c.code.local_in(2)};
    spec_.spirv = words_;
    spec_.opencl_source = c.code.opencl_c;
    call_.spec = &spec_;
    call_.inputs = c.inputs;
    for (std::size_t i = 0; i < c.scalars.size(); ++i)
      call_.scalars.push_back({name_views_[i], c.scalars[i].kind, c.scalars[i].bits, c.scalars[i].high_bits});
    call_.outputs = c.outputs;
    call_.groups = {c.code.groups_in(0), c.code.groups_in(1)};
    call_.groups_z = c.code.groups_in(2);
  }
  custom_binding(const custom_binding&) = delete;
  custom_binding& operator=(const custom_binding&) = delete;

  [[nodiscard]] const kernels::kernel_spec& spec() const { return spec_; }
  [[nodiscard]] const kernels::bound_call& call() const { return call_; }
  /// SHA-256 of the code (kernel_hash): the key of compiled custom code in a backend's LRU.
  [[nodiscard]] std::array<std::uint8_t, 32> code_hash() const { return kernels::kernel_hash(spec_); }

 private:
  std::vector<std::uint32_t> words_;
  std::string entry_;
  std::vector<kernels::tensor_spec> inputs_, outputs_;
  std::vector<std::string> names_;
  std::vector<std::string_view> name_views_;
  kernels::kernel_spec spec_;
  kernels::bound_call call_;
};

}  // namespace ec::backends
