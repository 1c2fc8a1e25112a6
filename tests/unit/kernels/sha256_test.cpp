// sha256: FIPS 180 vectors through the batch ABI, padding boundaries, and argument checks.
#include "ec/protocol/sha256.hpp"

#include "kernel_test_support.hpp"

namespace ec::kernels::test {
namespace {

const kernel_spec& k() { return *find_kernel("sha256"); }

sample batch(std::uint64_t count, std::string_view msg) {
  tensor t{"msgs", dtype::u8, {count, msg.size()}, {}};
  for (std::uint64_t i = 0; i < count; ++i) t.data.insert(t.data.end(), msg.begin(), msg.end());
  return {{}, {t}, {}};
}

std::string hex_digest(const tensor& digests, std::uint64_t i) {
  return protocol::to_hex(protocol::byte_span(digests.data).subspan(i * 32, 32));
}

TEST_CASE("sha256 hashes abc, the empty message and the two FIPS 180 multi-block messages to their digests") {
  const std::pair<std::string_view, std::string_view> vectors[] = {
      {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
      {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrst"
       "u",
       "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"}};
  for (const auto& vector : vectors) {
    const auto& msg = vector.first;  // not a structured binding: clang 14 cannot capture one in CAPTURE's lambda
    const auto& digest = vector.second;
    CAPTURE(msg);
    const auto out = run(k(), batch(3, msg));  // three copies: every slot of the batch must hold the digest
    REQUIRE(out[0].shape == std::vector<std::uint64_t>{3, 32});
    for (std::uint64_t i = 0; i < 3; ++i) CHECK(hex_digest(out[0], i) == digest);
  }
}

TEST_CASE("sha256 gives each message of a batch its own digest across the padding boundaries") {
  for (std::uint64_t len : {0, 1, 54, 55, 56, 57, 63, 64, 65, 119, 120, 1024}) {
    CAPTURE(len);
    const sample s = k().generate(std::vector<std::uint64_t>{9, len}, len, sample_data::adversarial);
    const auto out = run(k(), s, uneven_for);
    for (std::uint64_t i = 0; i < 9; ++i)
      CHECK(hex_digest(out[0], i) ==
            protocol::to_hex(protocol::sha256_of(protocol::byte_span(s.inputs[0].data).subspan(i * len, len))));
  }
}

TEST_CASE("sha256 rejects a missing, mistyped or rank-1 msgs, zero messages, len above 1024 and any param") {
  CHECK(bind_error(k(), sample{}) == "missing input tensor 'msgs'");
  sample s = batch(2, "abcd");
  s.inputs[0].type = dtype::u32;
  s.inputs[0].shape = {2, 1};
  CHECK(bind_error(k(), s).find("input 'msgs' must be u8, got u32") != std::string::npos);
  s = batch(2, "abcd");
  s.inputs[0].shape = {8};
  CHECK(bind_error(k(), s).find("must have shape [count, len]") != std::string::npos);
  CHECK(bind_error(k(), batch(0, "abcd")) == "msgs must hold at least one message (count = 0)");
  CHECK(bind_error(k(), batch(1, std::string(1025, 'a'))).find("message length len = 1025 exceeds 1024") !=
        std::string::npos);
  CHECK(bind(k(), batch(1, std::string(1024, 'a'))).ok());
  s = batch(1, "abc");
  s.params = {u32_param("len", 3)};
  CHECK(bind_error(k(), s) == "unknown param 'len'");
}

TEST_CASE("sha256 binds count and len as scalars and one invocation per message in groups of 64") {
  auto c = bind(k(), batch(130, "hello"));
  REQUIRE(c.ok());
  CHECK(c->scalars[0].bits == 130u);
  CHECK(c->scalars[1].bits == 5u);
  CHECK(c->groups == std::array<std::uint64_t, 2>{3, 1});
  CHECK(c->bytes_moved == 130u * (5 + 32));
}

}  // namespace
}  // namespace ec::kernels::test
