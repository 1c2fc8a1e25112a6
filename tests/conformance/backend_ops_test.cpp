// Conformance in the style of ggml's test-backend-ops: every catalogue kernel on every device the registry finds
// (real modules, Vulkan validation layer on), against the C++ reference under the kernel's validation mode,
// over edge-case shapes and adversarial data. lavapipe and PoCL must be present: a missing one fails the suite.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <map>

#include "ec/backends/calibration.hpp"
#include "ec/backends/registry.hpp"
#include "ec/kernels/catalog.hpp"

using namespace ec;
using namespace ec::backends;
namespace fs = std::filesystem;

namespace {

// Shapes chosen to hit 1, primes, workgroup multiples and non-multiples (dims as each kernel's dims_doc says).
const std::map<std::string_view, std::vector<std::vector<std::uint64_t>>>& edge_shapes() {
  static const std::map<std::string_view, std::vector<std::vector<std::uint64_t>>> table{
      {"copy", {{1}, {2}, {255}, {256}, {257}, {100003}}},
      {"saxpy", {{1}, {2}, {7}, {255}, {256}, {257}, {65537}, {1000003}}},
      {"sgemm", {{1, 1, 1}, {1, 7, 3}, {17, 13, 31}, {64, 64, 64}, {65, 33, 129}, {127, 1, 255}}},
      {"reduce_sum", {{1, 1}, {3, 1}, {1, 1000}, {7, 257}, {300, 17}, {2, 100003}}},
      {"mandelbrot", {{1, 1}, {7, 3}, {17, 13}, {129, 65}, {300, 200}}},
      {"sha256", {{1, 1}, {3, 55}, {3, 56}, {5, 64}, {2, 119}, {100, 1000}}},
      {"histogram", {{1, 1}, {7, 3}, {1000, 17}, {65537, 256}, {100003, 4096}}},
  };
  return table;
}

struct suite_state {
  fs::path dir;
  std::unique_ptr<registry> devices;
  suite_state() {
    char pattern[] = "/tmp/ec-conformance-XXXXXX";
    dir = ::mkdtemp(pattern);
    prepare_opencl_environment(dir);  // before the OpenCL loader runs
    registry_options o;
    o.module_dir = EC_MODULE_DIR;
    o.backend.cache_dir = dir / "cache";
    o.backend.validation = true;
    devices = registry::load(o);
  }
  ~suite_state() {
    devices.reset();
    fs::remove_all(dir);
  }
};

suite_state& state() {
  static suite_state s;
  return s;
}

std::string describe(const std::vector<std::uint64_t>& dims) {
  std::string s;
  for (auto d : dims) s += (s.empty() ? "" : "x") + std::to_string(d);
  return s;
}

struct prepared {
  kernels::sample s;
  std::vector<protocol::tensor_ref> refs;
};

void check_kernel_everywhere(const kernels::kernel_spec& k) {
  const auto shapes = edge_shapes().find(k.name);
  REQUIRE_MESSAGE(shapes != edge_shapes().end(), "no conformance shapes for kernel " << k.name);
  for (const auto& dims : shapes->second) {
    for (auto data : {kernels::sample_data::ordinary, kernels::sample_data::adversarial}) {
      prepared p{k.generate(dims, 42, data), {}};
      for (const auto& t : p.s.inputs) p.refs.push_back(t.ref());
      auto call = k.bind(p.s.params, p.refs);
      REQUIRE_MESSAGE(call.ok(), k.name << " " << describe(dims) << ": " << call.err().what());
      const auto want = kernels::run_reference(*call);
      for (const auto& d : state().devices->devices()) {
        INFO(k.name << " dims " << describe(dims) << (data == kernels::sample_data::adversarial ? " adversarial" : "")
                    << " on " << d.dev->id() << " (" << d.info.name << ")");
        REQUIRE(d.dev->supports(k));
        auto got = d.dev->run(*call, clock::now() + std::chrono::seconds(120));
        REQUIRE_MESSAGE(got.ok(), got.err().what());
        CHECK(compare_outputs(k, got->outputs, want) == "");
      }
    }
  }
}

}  // namespace

TEST_CASE("lavapipe (Vulkan), PoCL (OpenCL) and the CPU are all found, in one resource group") {
  bool vulkan = false, opencl = false, cpu = false;
  for (const auto& b : state().devices->backends()) INFO(b.name << ": " << (b.available ? "available" : b.why));
  for (const auto& d : state().devices->devices()) {
    vulkan |= d.info.backend == "vulkan" && d.info.name.find("llvmpipe") != std::string::npos;
    opencl |= d.info.backend == "opencl";
    cpu |= d.info.backend == "cpu";
    CHECK(d.info.resource_group == "cpu");
  }
  for (const auto& b : state().devices->backends())
    CHECK_MESSAGE(b.available, b.name << " unavailable: " << b.why);
  CHECK(vulkan);
  CHECK(opencl);
  CHECK(cpu);
}

TEST_CASE("every catalogue kernel passes its self-test on every device") {
  for (const auto& d : state().devices->devices())
    for (const auto* k : kernels::catalog()) {
      const auto r = self_test(*d.dev, *k);
      CHECK_MESSAGE(r.passed, k->name << " on " << d.dev->id() << ": " << r.reason);
    }
}

TEST_CASE("copy conforms on every device") { check_kernel_everywhere(*kernels::find_kernel("copy")); }
TEST_CASE("saxpy conforms on every device") { check_kernel_everywhere(*kernels::find_kernel("saxpy")); }
TEST_CASE("sgemm conforms on every device") { check_kernel_everywhere(*kernels::find_kernel("sgemm")); }
TEST_CASE("reduce_sum conforms on every device") { check_kernel_everywhere(*kernels::find_kernel("reduce_sum")); }
TEST_CASE("mandelbrot conforms on every device") { check_kernel_everywhere(*kernels::find_kernel("mandelbrot")); }
TEST_CASE("sha256 conforms on every device") { check_kernel_everywhere(*kernels::find_kernel("sha256")); }
TEST_CASE("histogram conforms on every device") { check_kernel_everywhere(*kernels::find_kernel("histogram")); }

TEST_CASE("every catalogue kernel has conformance shapes") {
  for (const auto* k : kernels::catalog()) CHECK_MESSAGE(edge_shapes().count(k->name) == 1, k->name);
}

TEST_CASE("the largest copy a GPU-API device allows runs exactly, one element more is refused before allocation") {
  const auto* copy = kernels::find_kernel("copy");
  for (const auto& d : state().devices->devices()) {
    if (d.info.backend == "cpu") continue;  // bounded by host memory, not by an API limit
    // The largest buffer, capped at 128 MiB so PoCL's multi-GiB limit stays inside CI's memory.
    const std::uint64_t n = std::min<std::uint64_t>(d.info.max_buffer_bytes, 128ull << 20) / 4;
    INFO(d.dev->id() << " n=" << n);
    prepared p{copy->generate(std::vector<std::uint64_t>{n}, 3, kernels::sample_data::ordinary), {}};
    for (const auto& t : p.s.inputs) p.refs.push_back(t.ref());
    auto call = copy->bind(p.s.params, p.refs);
    REQUIRE(call.ok());
    auto got = d.dev->run(*call, clock::now() + std::chrono::seconds(120));
    REQUIRE_MESSAGE(got.ok(), got.err().what());
    CHECK(got->outputs[0].data == p.s.inputs[0].data);
    if (d.info.max_buffer_bytes <= (128ull << 20)) {
      // A tensor_ref may claim one element more without owning it: the device must refuse before reading it.
      auto big = *call;
      big.inputs[0].shape = {n + 1};
      big.inputs[0].data = protocol::byte_span(p.s.inputs[0].data.data(), (n + 1) * 4);
      big.outputs[0].shape = {n + 1};
      big.outputs[0].bytes = (n + 1) * 4;
      big.scalars[0].bits = static_cast<std::uint32_t>(n + 1);
      auto refused = d.dev->run(big, clock::now() + std::chrono::seconds(120));
      CHECK(refused.code() == error_code::unsupported);
    }
  }
}

TEST_CASE("malformed arguments get clear errors from every kernel, before any device is involved") {
  for (const auto* k : kernels::catalog()) {
    INFO(k->name);
    auto s = k->known_answer();
    std::vector<protocol::tensor_ref> refs;
    for (const auto& t : s.inputs) refs.push_back(t.ref());
    if (!k->inputs.empty()) {
      auto no_inputs = k->bind(s.params, {});
      CHECK(no_inputs.code() == error_code::invalid_argument);
      if (!no_inputs) CHECK(no_inputs.err().message.find(std::string(k->inputs[0].name)) != std::string::npos);
      auto wrong_type = refs;
      wrong_type[0].type = wrong_type[0].type == protocol::dtype::u8 ? protocol::dtype::u32 : protocol::dtype::u8;
      CHECK(k->bind(s.params, wrong_type).code() == error_code::invalid_argument);
    }
    if (!k->params.empty()) {
      auto missing = s.params;
      missing.erase(missing.begin());
      auto r = k->bind(missing, refs);
      CHECK(r.code() == error_code::invalid_argument);
      if (!r) CHECK(r.err().message.find(std::string(s.params.front().name)) != std::string::npos);
    }
    auto extra = s.params;
    extra.push_back({"no_such_param", protocol::dtype::u32, 1, 0});
    auto unknown = k->bind(extra, refs);
    CHECK(unknown.code() == error_code::invalid_argument);
    if (!unknown) CHECK(unknown.err().message.find("no_such_param") != std::string::npos);
  }
}
