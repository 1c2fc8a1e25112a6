// sha256: the SHA-256 digests (FIPS 180-4) of a batch of equal-length messages, validated exactly.
//
// ABI: no params; input msgs [count, len] (u8); output digests [count, 32] (u8, the digest bytes in their
// standard big-endian order); scalars count, len (u32); local 64x1, one invocation per message; groups
// {ceil(count/64), 1}, grid-stride over x and y. count >= 1, 0 <= len <= 1024, count*len <= 2^31.
// The GLSL kernel reads msgs as uint words (Vulkan 1.1 has no 8-bit storage): the backend must bind the input
// rounded up to a multiple of 4 bytes (the bytes past count*len are never used); digests are whole words.
// The reference is the protocol's SHA-256 (Mbed TLS), an implementation independent of the GPU kernels.
#include "ec/protocol/sha256.hpp"

#include <algorithm>
#include <cstring>
#include <random>

#include "../src/abi_checks.hpp"
#include "catalog_entries.hpp"

namespace ec::kernels {
namespace {

constexpr std::uint32_t spirv_words[] = {
#include "sha256.spv.inc"
};
constexpr std::string_view opencl_c =
#include "sha256.cl.inc"
    ;
constexpr std::string_view glsl =
#include "sha256.comp.inc"
    ;

constexpr std::uint64_t max_len = 1024;
constexpr std::uint64_t max_bytes = std::uint64_t{1} << 31;
constexpr std::uint64_t max_count = std::uint64_t{1} << 26;  // 2 GiB of digests
constexpr std::uint64_t digest_bytes = 32;

constexpr tensor_spec inputs[] = {{"msgs", dtype::u8, "[count, len]"}};
constexpr tensor_spec outputs[] = {{"digests", dtype::u8, "[count, 32]"}};
constexpr std::string_view scalars[] = {"count", "len"};
constexpr local_size local{64, 1};

result<bound_call> bind(std::span<const param> ps, std::span<const tensor_ref> ins) {
  if (auto r = abi::no_unknown(ps, {}, ins, inputs); !r) return r.err();
  auto msgs = abi::input(ins, inputs[0], 2);
  if (!msgs) return msgs.err();
  const std::uint64_t count = msgs->shape[0], len = msgs->shape[1];
  if (count == 0) return fail(error_code::invalid_argument, "msgs must hold at least one message (count = 0)");
  if (auto r = abi::at_most("message length len", len, max_len); !r) return r.err();
  if (auto r = abi::at_most("message count", count, max_count); !r) return r.err();
  if (auto r = abi::at_most("bytes of msgs (count*len)", count * len, max_bytes); !r) return r.err();
  auto digests = abi::output(outputs[0], {count, digest_bytes});
  if (!digests) return digests.err();

  bound_call c;
  c.spec = &sha256_spec;
  c.inputs = {*msgs};
  c.scalars = {abi::u32("count", static_cast<std::uint32_t>(count)), abi::u32("len", static_cast<std::uint32_t>(len))};
  c.outputs = {std::move(*digests)};
  c.groups = {abi::groups_for(count, local.x), 1};
  c.bytes_moved = count * (len + digest_bytes);
  c.flops = 0;  // integer work
  return c;
}

void reference(const bound_call& c, std::span<const std::span<std::byte>> out, const parallel_for& pf) {
  const std::uint64_t len = c.scalars[1].bits;
  const auto msgs = c.inputs[0].data;
  pf(c.outputs[0].shape[0], [&](std::uint64_t begin, std::uint64_t end) {
    for (std::uint64_t m = begin; m < end; ++m) {
      const auto d = protocol::sha256_of(msgs.subspan(m * len, len));
      std::memcpy(out[0].data() + m * digest_bytes, d.data(), digest_bytes);
    }
  });
}

std::vector<std::uint8_t> from_hex(std::string_view hex) {
  protocol::bytes b;
  protocol::from_hex(hex, b);
  return b;
}

sample known_answer() {
  // FIPS 180-2 appendix B.2: the 56-byte message, whose padding spills into a second block.
  const std::string_view msg = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  sample s;
  s.inputs = {abi::make_tensor("msgs", dtype::u8, {1, msg.size()}, std::vector<std::uint8_t>(msg.begin(), msg.end()))};
  s.expected = {abi::make_tensor("digests", dtype::u8, {1, digest_bytes},
                                 from_hex("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"))};
  return s;
}

sample generate(std::span<const std::uint64_t> dims, std::uint64_t seed, sample_data data) {
  const std::uint64_t count = dims[0], len = dims[1];
  std::mt19937_64 rng(seed);
  std::vector<std::uint8_t> msgs(count * len);
  for (auto& b : msgs) b = static_cast<std::uint8_t>(rng() >> 56);
  if (data == sample_data::adversarial) {
    // Bytes that look like padding (0x80, 0x00) or stress sign extension (0xff), message by message.
    const std::uint8_t fills[] = {0x00, 0xff, 0x80, 0x7f};
    for (std::uint64_t m = 0; m < count; m += 2)
      std::fill_n(msgs.begin() + static_cast<std::ptrdiff_t>(m * len), len, fills[(m / 2) % std::size(fills)]);
  }
  sample s;
  s.inputs = {abi::make_tensor("msgs", dtype::u8, {count, len}, msgs)};
  return s;
}

}  // namespace

const kernel_spec sha256_spec{
    .name = "sha256",
    .version = 1,
    .validation = validation_mode::exact,
    .rtol = 0,
    .atol = 0,
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
    .dims_count = 2,
    .dims_doc = "{count, len}",
};

}  // namespace ec::kernels
