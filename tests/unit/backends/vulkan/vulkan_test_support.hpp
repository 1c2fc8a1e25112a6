// Shared helpers of the Vulkan backend tests: a validated backend (every test runs with the Khronos validation
// layer, and any message fails the run), the lavapipe device (required: no device is a failure, never a skip),
// binding catalogue samples and comparing outputs with the kernel's validation mode.
#pragma once

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "ec/kernels/kernel_spec.hpp"
#include "ec/protocol/tolerance.hpp"
#include "vulkan_backend.hpp"

namespace ec::backends::vulkan::test {

inline backend_options validated_options(std::filesystem::path cache_dir = {}) {
  backend_options o;
  o.validation = true;
  o.cache_dir = std::move(cache_dir);
  return o;
}

/// One validated backend for the tests that need no cache of their own (instance creation costs ~0.1-0.3 s).
inline vulkan_backend& shared_backend() {
  static vulkan_backend b(validated_options());
  return b;
}

/// The lavapipe device (type CPU); fails the test when the backend found no device at all.
inline vulkan_device& lavapipe(vulkan_backend& b) {
  REQUIRE_MESSAGE(!b.vulkan_devices().empty(), "no Vulkan device: " << b.why_unavailable());
  for (const auto& d : b.vulkan_devices())
    if (d->info().type == protocol::device_type::cpu) return *d;
  FAIL("no CPU-type Vulkan device (lavapipe) among " << b.vulkan_devices().size() << " devices");
  return *b.vulkan_devices().front();
}

/// A sample's inputs bound to its kernel; the sample must outlive the call (refs point into it).
inline kernels::bound_call bind(const kernels::kernel_spec& spec, const kernels::sample& s) {
  std::vector<protocol::tensor_ref> refs;
  for (const auto& t : s.inputs) refs.push_back(t.ref());
  auto call = spec.bind(s.params, refs);
  REQUIRE_MESSAGE(call.ok(), spec.name << ": " << (call.ok() ? "" : call.err().what()));
  return std::move(*call);
}

/// Runs and requires success (a validation message would fail here with its text).
inline run_output run_ok(device& d, const kernels::bound_call& call) {
  auto out = d.run(call, clock::now() + std::chrono::seconds(120));
  REQUIRE_MESSAGE(out.ok(), call.spec->name << ": " << (out.ok() ? "" : out.err().what()));
  return std::move(*out);
}

/// Checks outputs against expected tensors with the kernel's validation mode (exact: bit-identical).
inline void check_outputs(const kernels::kernel_spec& spec, const std::vector<protocol::tensor>& got,
                          const std::vector<protocol::tensor>& want) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (spec.validation == protocol::validation_mode::exact) {
      CHECK_MESSAGE(got[i] == want[i], spec.name << " output " << want[i].name << " differs");
    } else {
      const auto m = protocol::compare_tensors(got[i].ref(), want[i].ref(), spec.rtol, spec.atol);
      CHECK_MESSAGE(!m, spec.name << " output " << want[i].name << " differs at " << (m ? m->index : 0) << ": "
                                  << (m ? m->reason : ""));
    }
  }
}

}  // namespace ec::backends::vulkan::test
