// copy: dst = src (u32 words), exact. The bandwidth yardstick of `edge-agent bench`: a kernel's GB/s is read
// next to the copy GB/s of the same device, counted the same way (bytes read + written).
#include <cstring>
#include <random>

#include "../src/abi_checks.hpp"
#include "catalog_entries.hpp"

namespace ec::kernels {
namespace {

constexpr std::uint32_t spirv_words[] = {
#include "copy.spv.inc"
};
constexpr std::string_view opencl_c =
#include "copy.cl.inc"
    ;
constexpr std::string_view glsl =
#include "copy.comp.inc"
    ;

constexpr std::uint64_t max_elements = std::uint64_t{1} << 31;
constexpr tensor_spec inputs[] = {{"src", dtype::u32, "[n]"}};
constexpr tensor_spec outputs[] = {{"dst", dtype::u32, "[n]"}};
constexpr std::string_view scalars[] = {"n"};
constexpr local_size local{256, 1};

result<bound_call> bind(std::span<const param> ps, std::span<const tensor_ref> ins) {
  if (auto r = abi::no_unknown(ps, {}, ins, inputs); !r) return r.err();
  auto src = abi::input(ins, inputs[0], 1);
  if (!src) return src.err();
  const std::uint64_t n = src->shape[0];
  if (auto r = abi::at_most("n", n, max_elements); !r) return r.err();
  auto dst = abi::output(outputs[0], {n});
  if (!dst) return dst.err();
  bound_call c;
  c.spec = &copy_spec;
  c.inputs = {*src};
  c.scalars = {abi::u32("n", static_cast<std::uint32_t>(n))};
  c.outputs = {std::move(*dst)};
  c.groups = {abi::groups_for(n, local.x), 1};
  c.bytes_moved = 8 * n;
  return c;
}

void reference(const bound_call& c, std::span<const std::span<std::byte>> out, const parallel_for& pf) {
  const auto src = c.inputs[0].data;
  pf(c.outputs[0].shape[0], [&](std::uint64_t begin, std::uint64_t end) {
    std::memcpy(out[0].data() + begin * 4, src.data() + begin * 4, (end - begin) * 4);
  });
}

sample known_answer() {
  sample s;
  s.inputs = {abi::make_tensor<std::uint32_t>("src", dtype::u32, {4}, {0, 1, 0xdeadbeef, 0xffffffff})};
  s.expected = {abi::make_tensor<std::uint32_t>("dst", dtype::u32, {4}, {0, 1, 0xdeadbeef, 0xffffffff})};
  return s;
}

sample generate(std::span<const std::uint64_t> dims, std::uint64_t seed, sample_data) {
  std::mt19937 rng(static_cast<std::uint32_t>(seed));
  std::vector<std::uint32_t> v(dims[0]);
  for (auto& x : v) x = static_cast<std::uint32_t>(rng());
  sample s;
  s.inputs = {abi::make_tensor("src", dtype::u32, {dims[0]}, v)};
  return s;
}

}  // namespace

const kernel_spec copy_spec{
    .name = "copy",
    .version = 1,
    .validation = validation_mode::exact,
    .params = {},
    .inputs = inputs,
    .outputs = outputs,
    .scalar_names = scalars,
    .local = local,
    .spirv = spirv_words,
    .opencl_source = opencl_c,
    .glsl_source = glsl,
    .bind = bind,
    .reference = reference,
    .known_answer = known_answer,
    .generate = generate,
    .dims_count = 1,
    .dims_doc = "{n}",
};

}  // namespace ec::kernels
