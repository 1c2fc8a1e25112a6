// A catalogue kernel: its argument ABI, validation mode, GPU code (embedded SPIR-V and OpenCL C) and the C++
// reference that is both the CPU backend's code and the tests' oracle.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ec/protocol/error.hpp"
#include "ec/protocol/messages.hpp"

namespace ec::kernels {

using protocol::dtype;
using protocol::param;
using protocol::tensor;
using protocol::tensor_ref;
using protocol::validation_mode;

/// The type of one scalar handed to a GPU kernel after its buffers. Catalogue kernels take 32-bit scalars only;
/// custom kernels may also take the 8-byte kinds (protocol.md, "Custom kernels").
enum class scalar_kind : std::uint8_t { u32, i32, f32, u64, i64, f64 };

/// Bytes a scalar of `kind` takes as a push constant or kernel argument: 4, or 8 for u64, i64 and f64.
constexpr std::uint32_t scalar_bytes(scalar_kind kind) { return kind >= scalar_kind::u64 ? 8 : 4; }

/// One scalar argument: a std430 push constant (Vulkan) or a kernel argument (OpenCL), in spec order.
struct scalar_arg {
  std::string_view name;
  scalar_kind kind = scalar_kind::u32;
  std::uint32_t bits = 0;       // the value's bit pattern (f32 as IEEE-754 bits); the low half of an 8-byte kind
  std::uint32_t high_bits = 0;  // the high half of an 8-byte kind (f64 as IEEE-754 bits); 0 for 32-bit kinds

  /// The whole bit pattern: high_bits:bits for 8-byte kinds, bits for 32-bit kinds.
  [[nodiscard]] constexpr std::uint64_t wide_bits() const { return std::uint64_t{high_bits} << 32 | bits; }
};

/// A named parameter of the ABI: its dtype and the inclusive range a task may give it.
struct param_spec {
  std::string_view name;
  dtype type = dtype::u32;
  double min = 0;
  double max = 0;
  std::string_view doc;
};

/// A named tensor of the ABI: its dtype and, for humans, its shape rule ("[n]", "[M, K]").
struct tensor_spec {
  std::string_view name;
  dtype type = dtype::f32;
  std::string_view shape_rule;
};

/// An output a call will produce, with its byte size already checked.
struct output_spec {
  std::string name;
  dtype type = dtype::f32;
  std::vector<std::uint64_t> shape;
  std::uint64_t bytes = 0;
};

/// Workgroup size in x, y and z (Vulkan: specialization constants 0, 1 and 2; OpenCL: the local size).
/// Catalogue kernels are 1-D or 2-D (z = 1); custom kernels may be 3-D.
struct local_size {
  std::uint32_t x = 1;
  std::uint32_t y = 1;
  std::uint32_t z = 1;
};

struct kernel_spec;

/// One checked call of a kernel: what every backend needs to run it, in the spec's order.
struct bound_call {
  const kernel_spec* spec = nullptr;
  std::vector<tensor_ref> inputs;    // the task's tensors, ordered as spec->inputs
  std::vector<scalar_arg> scalars;   // ordered as the kernel's scalar arguments
  std::vector<output_spec> outputs;  // ordered as spec->outputs
  /// Workgroups the call wants in x and y; a device may launch fewer: every kernel loops (grid-stride).
  std::array<std::uint64_t, 2> groups{1, 1};
  /// Workgroups in z: only custom kernels dispatch in 3-D (catalogue kernels leave it 1, so `groups = {x, y}`
  /// can never zero it).
  std::uint64_t groups_z = 1;
  std::uint64_t bytes_moved = 0;  // bytes read + written, for GB/s figures
  double flops = 0;               // floating-point operations, for GFLOP/s figures (0 when not meaningful)
};

/// Splits `count` items into ranges run on worker threads: calls body(begin, end) for disjoint ranges that
/// cover [0, count), possibly concurrently; returns when all are done.
using parallel_for = std::function<void(std::uint64_t count, const std::function<void(std::uint64_t, std::uint64_t)>& body)>;

/// Runs every range on the calling thread (tests, and the oracle in conformance runs).
void serial_for(std::uint64_t count, const std::function<void(std::uint64_t, std::uint64_t)>& body);

/// Inputs and parameters for one call (self-tests, calibration, conformance, benchmarks).
struct sample {
  std::vector<param> params;
  std::vector<tensor> inputs;
  std::vector<tensor> expected;  // known answer where the kernel's author wrote one; else empty
};

/// What kind of data a generated sample holds.
enum class sample_data : std::uint8_t { ordinary, adversarial };  // adversarial: NaN, +-inf, huge, denormals

struct kernel_spec {
  std::string_view name;
  std::uint32_t version = 1;
  validation_mode validation = validation_mode::exact;
  double rtol = 0;  // tolerance mode: |a - b| <= atol + rtol * |b|
  double atol = 0;
  std::span<const param_spec> params;
  std::span<const tensor_spec> inputs;
  std::span<const tensor_spec> outputs;
  std::span<const std::string_view> scalar_names;  // order of scalar_arg in every bound_call
  local_size local;
  std::span<const std::uint32_t> spirv;  // entry point "main"; bindings: inputs then outputs, set 0
  std::string_view opencl_source;        // kernel named like the spec; args: inputs, outputs, then scalars
  std::string_view glsl_source;          // for humans and hashing; the SPIR-V is what runs

  /// Checks params and inputs against the ABI (names, dtypes, ranges, shape rules, sizes) and binds a call.
  result<bound_call> (*bind)(std::span<const param> params, std::span<const tensor_ref> inputs) = nullptr;
  /// The C++ reference: fills `outputs` (sized as call.outputs) using `pf` to spread the work over threads.
  void (*reference)(const bound_call& call, std::span<const std::span<std::byte>> outputs,
                    const parallel_for& pf) = nullptr;
  /// The known-answer input of the self-test: small, with `expected` filled independently of `reference`.
  sample (*known_answer)() = nullptr;
  /// Generated input; `dims` means what dims_doc says (e.g. {M, N, K} for sgemm), deterministic in `seed`.
  sample (*generate)(std::span<const std::uint64_t> dims, std::uint64_t seed, sample_data data) = nullptr;
  std::size_t dims_count = 1;
  std::string_view dims_doc;
};

/// SHA-256 of the kernel's name, version, SPIR-V and OpenCL C: the key of cached self-test verdicts.
std::array<std::uint8_t, 32> kernel_hash(const kernel_spec& spec);

/// Runs the reference into freshly allocated output tensors.
std::vector<tensor> run_reference(const bound_call& call, const parallel_for& pf = serial_for);

}  // namespace ec::kernels
