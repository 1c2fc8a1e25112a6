// Signers and verifiers: RFC 6979 known answers, low-s on both sides, cross-verification between Mbed TLS,
// OpenSSL and the openssl CLI, and rejection of high-s twins, bit flips and out-of-range r or s.
#include <doctest/doctest.h>

#include <thread>
#include <vector>

#include "crypto_test_support.hpp"
#include "ec/protocol/keys.hpp"
#include "ec/protocol/mbedtls_signer.hpp"
#include "ec/protocol/openssl_signer.hpp"
#include "ec/protocol/sha256.hpp"

using namespace ec::protocol;
using ec::error_code;
using ec::test::kat;
using ec::test::quoted;
using ec::test::scratch_dir;

namespace {

using scalar = std::array<std::uint8_t, 32>;

constexpr const char* order_hex = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
constexpr const char* half_order_hex = "7fffffff800000007fffffffffffffffde737d56d38bcf4279dce5617e3192a8";

// One key held by both implementations, and a verifier of each kind for it.
struct key_pair {
  std::string pem;
  std::unique_ptr<mbedtls_signer> mbed;
  std::unique_ptr<openssl_signer> ossl;
  std::unique_ptr<verifier> mbed_verifier;
  std::unique_ptr<verifier> ossl_verifier;

  explicit key_pair(std::string key_pem) : pem(std::move(key_pem)) {
    auto priv = private_key::from_pem(pem);
    REQUIRE_MESSAGE(priv.ok(), priv.err().what());
    mbed = std::make_unique<mbedtls_signer>(std::move(priv).value());
    auto o = openssl_signer::from_pem(pem);
    REQUIRE_MESSAGE(o.ok(), o.err().what());
    ossl = std::move(o).value();
    REQUIRE(ossl->key().id() == mbed->key().id());
    mbed_verifier = mbedtls_verifier_factory()(mbed->key());
    ossl_verifier = openssl_verifier_factory()(mbed->key());
  }
  static key_pair generated() {
    auto key = private_key::generate();
    REQUIRE(key.ok());
    return key_pair(key->to_pem().value());
  }
  static key_pair known_answer() { return key_pair(ec::test::read_text(ec::test::test_data("kat_key.pem"))); }

  // Both verifiers agree on `sig`: accepted, or rejected with `expected`.
  void check_both(const sha256_digest& d, const raw_signature& sig, error_code expected) const {
    const auto by_mbed = mbed_verifier->verify_digest(d, sig);
    const auto by_ossl = ossl_verifier->verify_digest(d, sig);
    CHECK_MESSAGE(by_mbed.code() == expected, "mbedtls_verifier: ", by_mbed.err().what());
    CHECK_MESSAGE(by_ossl.code() == expected, "openssl_verifier: ", by_ossl.err().what());
  }
};

sha256_digest digest_of(const std::string& text) { return sha256_of(as_bytes(text)); }

std::span<const std::uint8_t, 32> s_of(const raw_signature& sig) {
  return std::span<const std::uint8_t, 32>(sig.data() + 32, 32);
}

scalar s_copy(const raw_signature& sig) {
  scalar s{};
  std::copy(sig.begin() + 32, sig.end(), s.begin());
  return s;
}

raw_signature with_s(const raw_signature& sig, const scalar& s) {
  raw_signature out = sig;
  std::copy(s.begin(), s.end(), out.begin() + 32);
  return out;
}

}  // namespace

TEST_CASE("the Mbed TLS signer reproduces the RFC 6979 known answers with s normalised to the low half") {
  const auto kp = key_pair::known_answer();
  for (const std::string m : {"sample", "test"}) {
    CAPTURE(m);
    const auto digest = digest_of(kat(m + "_message_ascii"));
    REQUIRE(to_hex(digest) == kat(m + "_digest"));
    const auto sig = kp.mbed->sign_digest(digest);
    REQUIRE_MESSAGE(sig.ok(), sig.err().what());
    CHECK(to_hex(*sig) == kat(m + "_signature"));
    CHECK(to_hex(byte_span(sig->data(), 32)) == kat(m + "_rfc6979_r"));
    kp.check_both(digest, *sig, error_code::ok);
  }
  // RFC 6979's own s for "sample" is high: the raw RFC output is exactly what the verifiers must refuse.
  const auto digest = digest_of("sample");
  const auto rfc_raw = ec::test::unhex_array<64>(kat("sample_rfc6979_r") + kat("sample_rfc6979_s"));
  CHECK_FALSE(is_low_s(s_of(rfc_raw)));
  kp.check_both(digest, rfc_raw, error_code::bad_signature);
}

TEST_CASE("Mbed TLS signatures are deterministic, distinct per digest, and always low-s") {
  const auto kp = key_pair::generated();
  std::vector<raw_signature> seen;
  for (int i = 0; i < 32; ++i) {
    const auto digest = digest_of("message " + std::to_string(i));
    const auto a = kp.mbed->sign_digest(digest);
    const auto b = kp.mbed->sign_digest(digest);
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK(*a == *b);
    CHECK(is_low_s(s_of(*a)));
    CHECK(std::find(seen.begin(), seen.end(), *a) == seen.end());
    seen.push_back(*a);
  }
}

TEST_CASE("signatures from either implementation verify with both verifiers") {
  const auto kp = key_pair::generated();
  for (int i = 0; i < 16; ++i) {
    const auto digest = digest_of("cross " + std::to_string(i));
    const auto by_mbed = kp.mbed->sign_digest(digest);
    const auto by_ossl = kp.ossl->sign_digest(digest);
    REQUIRE(by_mbed.ok());
    REQUIRE_MESSAGE(by_ossl.ok(), by_ossl.err().what());
    CHECK(is_low_s(s_of(*by_ossl)));
    kp.check_both(digest, *by_mbed, error_code::ok);
    kp.check_both(digest, *by_ossl, error_code::ok);
  }
}

TEST_CASE("both verifiers reject the high-s twin of every valid signature") {
  const auto kp = key_pair::generated();
  for (int i = 0; i < 16; ++i) {
    const auto digest = digest_of("twin " + std::to_string(i));
    const raw_signature sig = (i % 2 == 0 ? kp.mbed->sign_digest(digest) : kp.ossl->sign_digest(digest)).value();
    const raw_signature twin = high_s_twin(sig);
    CHECK_FALSE(is_low_s(s_of(twin)));
    CHECK(std::equal(twin.begin(), twin.begin() + 32, sig.begin()));  // same r
    raw_signature normalised = twin;
    normalize_low_s(normalised);
    CHECK(normalised == sig);
    kp.check_both(digest, twin, error_code::bad_signature);
  }
}

TEST_CASE("both verifiers reject every single-bit flip of the signature and of the digest") {
  const auto kp = key_pair::generated();
  const auto digest = digest_of("flip me");
  const raw_signature sig = kp.mbed->sign_digest(digest).value();
  kp.check_both(digest, sig, error_code::ok);
  for (std::size_t bit = 0; bit < sig.size() * 8; ++bit) {
    CAPTURE(bit);
    raw_signature bad = sig;
    bad[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    kp.check_both(digest, bad, error_code::bad_signature);
  }
  for (std::size_t bit = 0; bit < digest.size() * 8; ++bit) {
    CAPTURE(bit);
    sha256_digest bad = digest;
    bad[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    kp.check_both(bad, sig, error_code::bad_signature);
  }
}

TEST_CASE("zero or out-of-range r or s, and another key's signature, are rejected by both verifiers") {
  const auto kp = key_pair::generated();
  const auto digest = digest_of("range");
  const raw_signature sig = kp.mbed->sign_digest(digest).value();
  const scalar zero{};
  const auto order = ec::test::unhex_array<32>(order_hex);
  raw_signature r_zero = sig;
  std::fill(r_zero.begin(), r_zero.begin() + 32, std::uint8_t{0});
  raw_signature r_order = sig;
  std::copy(order.begin(), order.end(), r_order.begin());
  raw_signature r_max = sig;
  std::fill(r_max.begin(), r_max.begin() + 32, std::uint8_t{0xff});
  const raw_signature all_zero{};
  for (const auto& bad : {r_zero, with_s(sig, zero), all_zero, r_order, r_max, with_s(sig, order)})
    kp.check_both(digest, bad, error_code::bad_signature);

  const auto stranger = key_pair::generated();
  stranger.check_both(digest, sig, error_code::bad_signature);
}

TEST_CASE("verifiers made from an empty public key refuse everything, an empty signer cannot sign") {
  const auto kp = key_pair::generated();
  const auto digest = digest_of("empty");
  const raw_signature sig = kp.mbed->sign_digest(digest).value();
  CHECK(mbedtls_verifier(public_key{}).verify_digest(digest, sig).code() == error_code::invalid_key);
  CHECK(openssl_verifier(public_key{}).verify_digest(digest, sig).code() == error_code::invalid_key);
  CHECK(mbedtls_signer(private_key{}).sign_digest(digest).code() == error_code::crypto_error);
}

TEST_CASE("is_low_s, normalize_low_s and high_s_twin at the boundaries of the low half") {
  const auto half = ec::test::unhex_array<32>(half_order_hex);
  const auto order = ec::test::unhex_array<32>(order_hex);
  scalar one{};
  one[31] = 1;
  scalar half_plus_one = half;
  half_plus_one[31] += 1;  // ...a8 + 1, no carry
  scalar order_minus_one = order;
  order_minus_one[31] -= 1;
  const scalar zero{};

  CHECK(is_low_s(one));
  CHECK(is_low_s(half));
  CHECK_FALSE(is_low_s(half_plus_one));
  CHECK_FALSE(is_low_s(order_minus_one));
  CHECK_FALSE(is_low_s(zero));
  CHECK_FALSE(is_low_s(order));

  const raw_signature base{};
  auto normalised = [&](const scalar& s) {
    raw_signature sig = with_s(base, s);
    normalize_low_s(sig);
    return s_copy(sig);
  };
  CHECK(normalised(half_plus_one) == half);  // n = 2 * half + 1
  CHECK(normalised(order_minus_one) == one);
  CHECK(normalised(half) == half);
  CHECK(normalised(zero) == zero);  // invalid values are left for the verifier to reject
  CHECK(normalised(order) == order);
  CHECK(s_copy(high_s_twin(with_s(base, one))) == order_minus_one);
  CHECK(high_s_twin(with_s(base, zero)) == with_s(base, zero));
}

TEST_CASE("the openssl CLI verifies our signatures and the raw RFC 6979 twin, and rejects a tampered message") {
  scratch_dir dir;
  const auto kp = key_pair::known_answer();
  const auto msg = dir / "msg";
  const auto pub = dir / "pub.pem";
  const auto sig_der = dir / "sig.der";
  const std::string text = "edgecompute/v1 interop message";
  ec::test::write_text(msg, text);
  REQUIRE(save_public_key(kp.mbed->key(), pub).ok());
  const std::string verify = "dgst -sha256 -verify " + quoted(pub) + " -signature " + quoted(sig_der) + " ";

  const auto digest = digest_of(text);
  for (const signer* s : std::initializer_list<const signer*>{kp.mbed.get(), kp.ossl.get()}) {
    ec::test::write_binary(sig_der, ec::test::raw_to_der(s->sign_digest(digest).value()));
    CHECK(ec::test::openssl_ok(verify + quoted(msg)).find("Verified OK") != std::string::npos);
  }
  ec::test::write_text(dir / "tampered", text + ".");
  const auto tampered = ec::test::run_command("openssl " + verify + quoted(dir / "tampered"));
  CHECK(tampered.status != 0);

  // The high-s form is mathematically valid (the CLI accepts it): our verifiers refuse it by protocol rule.
  ec::test::write_text(msg, kat("sample_message_ascii"));
  const auto rfc_raw = ec::test::unhex_array<64>(kat("sample_rfc6979_r") + kat("sample_rfc6979_s"));
  ec::test::write_binary(sig_der, ec::test::raw_to_der(rfc_raw));
  CHECK(ec::test::openssl_ok(verify + quoted(msg)).find("Verified OK") != std::string::npos);
  kp.check_both(digest_of(kat("sample_message_ascii")), rfc_raw, error_code::bad_signature);
}

TEST_CASE("openssl CLI signatures verify once normalised and are rejected while high-s") {
  scratch_dir dir;
  const auto kp = key_pair::generated();
  const auto key_pem = dir / "key.pem";
  const auto msg = dir / "msg";
  const auto sig_der = dir / "sig.der";
  ec::test::write_text(key_pem, kp.pem);
  const std::string text = "signed by the openssl CLI";
  ec::test::write_text(msg, text);
  const auto digest = digest_of(text);

  // OpenSSL 3.0 signs with a random k, so s lands in the high half about every other time: 24 tries miss
  // a high-s signature with probability 2^-24.
  int high = 0;
  int low = 0;
  for (int i = 0; i < 24; ++i) {
    ec::test::openssl_ok("dgst -sha256 -sign " + quoted(key_pem) + " -out " + quoted(sig_der) + " " + quoted(msg));
    raw_signature sig = ec::test::der_to_raw(ec::test::read_binary(sig_der));
    if (is_low_s(s_of(sig))) {
      ++low;
    } else {
      ++high;
      kp.check_both(digest, sig, error_code::bad_signature);
      normalize_low_s(sig);
      REQUIRE(is_low_s(s_of(sig)));
    }
    kp.check_both(digest, sig, error_code::ok);
  }
  CHECK(high > 0);
  CHECK(low > 0);
}

TEST_CASE("one signer and one verifier can be used from several threads at once") {
  const auto kp = key_pair::generated();
  const auto fresh_verifier = mbedtls_verifier_factory()(kp.mbed->key());  // first use fills Mbed TLS's cache
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (std::size_t t = 0; t < failures.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 8; ++i) {
        const auto digest = digest_of("thread " + std::to_string(t) + " " + std::to_string(i));
        const auto sig = kp.mbed->sign_digest(digest);
        if (!sig.ok() || !fresh_verifier->verify_digest(digest, *sig).ok() ||
            !kp.ossl_verifier->verify_digest(digest, *sig).ok())
          ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const int f : failures) CHECK(f == 0);
}
