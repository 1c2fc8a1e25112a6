// Shared helpers of the OpenCL backend tests: temp folders, one shared PoCL device, binding samples, and
// comparing outputs within a kernel's validation mode.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "ec/kernels/catalog.hpp"
#include "opencl_backend.hpp"

namespace ec::backends::opencl::test {

/// A fresh folder under the system temp dir, removed with everything in it on destruction.
class temp_dir {
 public:
  explicit temp_dir(const std::string& tag) {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("ec-opencl-" + tag + "-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// A backend without a disk cache, created once per test binary (PoCL's first build is the slow part).
inline opencl_backend& shared_backend() {
  static opencl_backend backend{backend_options{}};
  return backend;
}

/// The PoCL device; fails the test (never skips) when there is none.
inline opencl_device& pocl_device(opencl_backend& backend = shared_backend()) {
  INFO("why_unavailable: " << backend.why_unavailable());
  REQUIRE_FALSE(backend.opencl_devices().empty());
  for (const auto& d : backend.opencl_devices())
    if (d->facts().platform_name.find("Portable Computing Language") != std::string::npos) return *d;
  FAIL("no PoCL device among " << backend.opencl_devices().size() << " OpenCL devices");
  throw std::logic_error("unreachable");
}

/// A sample bound to its kernel. The sample lives on the heap: the call's tensor_refs view its names and
/// bytes, and a moved std::string would move a short name's characters (SSO) away from the view.
struct bound_sample {
  std::unique_ptr<kernels::sample> sample;
  kernels::bound_call call;
};

inline result<bound_sample> bind_sample(const kernels::kernel_spec& spec, kernels::sample s) {
  auto held = std::make_unique<kernels::sample>(std::move(s));
  std::vector<kernels::tensor_ref> refs;
  for (const auto& t : held->inputs) refs.push_back(t.ref());
  auto call = spec.bind(held->params, refs);
  if (!call) return call.err();
  return bound_sample{std::move(held), std::move(*call)};
}

inline clock::time_point far_deadline() { return clock::now() + std::chrono::seconds(120); }

template <typename T>
bool close_enough(T a, T b, double rtol, double atol) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (std::isinf(a) || std::isinf(b)) return a == b;
  return std::fabs(static_cast<double>(a) - static_cast<double>(b)) <= atol + rtol * std::fabs(static_cast<double>(b));
}

/// Empty when `got` matches `want` under the kernel's validation mode; else the first mismatch, described.
inline std::string compare_outputs(const kernels::kernel_spec& spec, const std::vector<protocol::tensor>& got,
                                   const std::vector<protocol::tensor>& want) {
  if (got.size() != want.size())
    return "output count " + std::to_string(got.size()) + " != " + std::to_string(want.size());
  for (std::size_t t = 0; t < got.size(); ++t) {
    const auto& g = got[t];
    const auto& w = want[t];
    if (g.name != w.name || g.shape != w.shape || g.data.size() != w.data.size())
      return "output " + w.name + ": name, shape or size differs";
    if (spec.validation == protocol::validation_mode::exact ||
        (w.type != protocol::dtype::f32 && w.type != protocol::dtype::f64)) {
      for (std::size_t i = 0; i < g.data.size(); ++i)
        if (g.data[i] != w.data[i]) return "output " + w.name + ": byte " + std::to_string(i) + " differs";
      continue;
    }
    const auto check = [&](auto zero) -> std::string {
      using T = decltype(zero);
      for (std::size_t i = 0; i < g.data.size() / sizeof(T); ++i) {
        T a, b;
        std::memcpy(&a, g.data.data() + i * sizeof(T), sizeof(T));
        std::memcpy(&b, w.data.data() + i * sizeof(T), sizeof(T));
        if (!close_enough(a, b, spec.rtol, spec.atol))
          return "output " + w.name + "[" + std::to_string(i) + "]: got " + std::to_string(a) + ", want " +
                 std::to_string(b);
      }
      return {};
    };
    const auto r = w.type == protocol::dtype::f32 ? check(0.0f) : check(0.0);
    if (!r.empty()) return r;
  }
  return {};
}

/// Runs `call` on `device` and checks it against the C++ reference; returns the run for timings.
inline run_output run_and_check(device& dev, const kernels::bound_call& call) {
  auto out = dev.run(call, far_deadline());
  INFO(call.spec->name << ": " << (out ? std::string() : out.err().what()));
  REQUIRE(out.ok());
  const auto want = kernels::run_reference(call);
  const auto diff = compare_outputs(*call.spec, out->outputs, want);
  CHECK_MESSAGE(diff.empty(), call.spec->name << ": " << diff);
  return std::move(*out);
}

}  // namespace ec::backends::opencl::test
