// Code signatures of custom kernels (protocol.md, "Custom kernels"): only a key trusted for code verifies, and
// every byte of the SPIR-V, the OpenCL C and the entry name is covered.
#include "ec/protocol/code_signature.hpp"

#include <doctest/doctest.h>

#include "ec/protocol/mbedtls_signer.hpp"
#include "test_keys.hpp"

using namespace ec;
using namespace ec::protocol;

namespace {

struct code_fixture {
  std::unique_ptr<mbedtls_signer> code_key;
  static_trust_store trust{mbedtls_verifier_factory()};
  bytes spirv{0x03, 0x02, 0x23, 0x07, 1, 2, 3, 4};
  std::string opencl = "__kernel void k(__global float* x) { x[0] = 1.0f; }";
  std::string entry = "k";
  code_fixture() {
    auto k = private_key::generate();
    REQUIRE(k.ok());
    code_key = std::make_unique<mbedtls_signer>(std::move(*k));
    trust.trust(code_key->key(), {message_kind::code});
    trust.trust_aggregator(test::aggregator_signer().key());
  }
  [[nodiscard]] code_to_sign code() const { return {spirv, opencl, entry}; }
  [[nodiscard]] result<void> verify(const signer& by, const raw_signature& sig) const {
    return verify_code(code(), by.key().id(), sig, trust);
  }
};

}  // namespace

TEST_CASE("code signed by a code key verifies") {
  code_fixture f;
  auto sig = sign_code(f.code(), *f.code_key);
  REQUIRE(sig.ok());
  CHECK(f.verify(*f.code_key, *sig).ok());
}

TEST_CASE("code signed by an untrusted key or by an aggregator key is refused as untrusted") {
  code_fixture f;
  for (const signer* by : {&test::stranger_signer(), &test::aggregator_signer()}) {
    auto sig = sign_code(f.code(), *by);
    REQUIRE(sig.ok());
    auto r = f.verify(*by, *sig);
    REQUIRE_FALSE(r.ok());
    CHECK(r.code() == error_code::untrusted_key);
    CHECK(r.err().message.find("trust.code_keys") != std::string::npos);
  }
}

TEST_CASE("a code key does not become trusted for envelopes") {
  code_fixture f;
  CHECK(f.trust.find(f.code_key->key().id(), message_kind::task_batch) == nullptr);
  CHECK(f.trust.find(f.code_key->key().id(), message_kind::code) != nullptr);
  CHECK(f.trust.find(test::aggregator_signer().key().id(), message_kind::code) == nullptr);
}

TEST_CASE("a flipped byte in the SPIR-V, the OpenCL C or the entry breaks the code signature") {
  code_fixture f;
  auto sig = sign_code(f.code(), *f.code_key);
  REQUIRE(sig.ok());
  const auto refused = [&](const bytes& spirv, const std::string& opencl, const std::string& entry) {
    auto r = verify_code({spirv, opencl, entry}, f.code_key->key().id(), *sig, f.trust);
    return !r.ok() && r.code() == error_code::bad_signature;
  };
  CHECK_FALSE(refused(f.spirv, f.opencl, f.entry));
  for (std::size_t i = 0; i < f.spirv.size(); ++i) {
    auto spirv = f.spirv;
    spirv[i] ^= 0x01;
    CHECK_MESSAGE(refused(spirv, f.opencl, f.entry), "spirv byte " << i);
  }
  for (std::size_t i = 0; i < f.opencl.size(); i += 7) {
    auto opencl = f.opencl;
    opencl[i] = static_cast<char>(opencl[i] ^ 0x01);
    CHECK_MESSAGE(refused(f.spirv, opencl, f.entry), "opencl_c byte " << i);
  }
  CHECK(refused(f.spirv, f.opencl, "K"));
  CHECK(refused(f.spirv, f.opencl, "k2"));
  // Moving bytes between the parts changes the digests, not just the concatenation.
  CHECK(refused(f.spirv, f.opencl + "k", ""));
}

TEST_CASE("a signature that is not 64 bytes or a key id that is not 32 bytes is refused") {
  code_fixture f;
  auto sig = sign_code(f.code(), *f.code_key);
  REQUIRE(sig.ok());
  const bytes short_sig(sig->begin(), sig->end() - 1);
  CHECK(verify_code(f.code(), f.code_key->key().id(), short_sig, f.trust).code() == error_code::bad_signature);
  const bytes short_id(f.code_key->key().id().begin(), f.code_key->key().id().end() - 1);
  CHECK(verify_code(f.code(), short_id, *sig, f.trust).code() == error_code::bad_signature);
}
