// OpenSSL 3 signer and verifier over the same raw r||s, low-s contract as the Mbed TLS ones.
#include "ec/protocol/openssl_signer.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <vector>

namespace ec::protocol {
namespace {

template <auto Free>
struct deleter {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY_free>>;
using pkey_ctx_ptr = std::unique_ptr<EVP_PKEY_CTX, deleter<EVP_PKEY_CTX_free>>;
using bio_ptr = std::unique_ptr<BIO, deleter<BIO_free>>;
using ecdsa_sig_ptr = std::unique_ptr<ECDSA_SIG, deleter<ECDSA_SIG_free>>;
using bn_ptr = std::unique_ptr<BIGNUM, deleter<BN_free>>;

// Takes OpenSSL's error queue into the message and empties it: the queue is per thread and shared with
// everything else in the process that uses OpenSSL (Paho's TLS), which must not see our failures.
error ssl_fail(error_code code, std::string what) {
  const unsigned long e = ERR_peek_last_error();
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    what += ": ";
    what += buf;
  }
  ERR_clear_error();
  return fail(code, std::move(what));
}

// Never let OpenSSL prompt on the terminal for the pass phrase of an encrypted key.
int no_pass_phrase(char*, int, int, void*) { return 0; }

bool is_p256(EVP_PKEY* pkey) {
  if (EVP_PKEY_is_a(pkey, "EC") != 1) return false;
  char name[64] = {};
  std::size_t len = 0;
  if (EVP_PKEY_get_group_name(pkey, name, sizeof name, &len) != 1) return false;
  return std::strcmp(name, "prime256v1") == 0 || std::strcmp(name, "P-256") == 0;
}

// The canonical SPKI for a P-256 key: a fixed header (id-ecPublicKey, prime256v1, BIT STRING of 66 bytes) and
// the uncompressed point, whatever encoding the key came in.
result<bytes> canonical_spki(EVP_PKEY* pkey) {
  static constexpr std::uint8_t header[] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
                                            0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
                                            0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04};
  BIGNUM* x = nullptr;
  BIGNUM* y = nullptr;
  const bool got = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x) == 1 &&
                   EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y) == 1;
  const bn_ptr x_owner(x);
  const bn_ptr y_owner(y);
  if (!got) return ssl_fail(error_code::invalid_key, "cannot read the public point");
  bytes der(std::begin(header), std::end(header));
  der.resize(sizeof header + 64);
  if (BN_bn2binpad(x, der.data() + sizeof header, 32) != 32 ||
      BN_bn2binpad(y, der.data() + sizeof header + 32, 32) != 32)
    return ssl_fail(error_code::invalid_key, "public point coordinate out of range");
  return der;
}

// DER ECDSA-Sig-Value -> r||s (each left-padded to 32 bytes).
result<raw_signature> der_to_raw(const std::vector<unsigned char>& der) {
  const unsigned char* p = der.data();
  const ecdsa_sig_ptr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) return ssl_fail(error_code::crypto_error, "OpenSSL returned an unparsable signature");
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  raw_signature raw{};
  if (BN_bn2binpad(r, raw.data(), 32) != 32 || BN_bn2binpad(s, raw.data() + 32, 32) != 32)
    return ssl_fail(error_code::crypto_error, "signature component longer than 32 bytes");
  return raw;
}

// r||s -> DER ECDSA-Sig-Value.
result<std::vector<unsigned char>> raw_to_der(const raw_signature& raw) {
  ecdsa_sig_ptr sig(ECDSA_SIG_new());
  bn_ptr r(BN_bin2bn(raw.data(), 32, nullptr));
  bn_ptr s(BN_bin2bn(raw.data() + 32, 32, nullptr));
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1)
    return ssl_fail(error_code::crypto_error, "cannot build an ECDSA_SIG");
  (void)r.release();  // owned by sig now
  (void)s.release();
  const int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return ssl_fail(error_code::crypto_error, "cannot encode an ECDSA_SIG");
  std::vector<unsigned char> der(static_cast<std::size_t>(len));
  unsigned char* out = der.data();
  if (i2d_ECDSA_SIG(sig.get(), &out) != len) return ssl_fail(error_code::crypto_error, "cannot encode an ECDSA_SIG");
  return der;
}

// A context for one sign or verify over a SHA-256 digest (a context is per call: it is not thread-safe).
result<pkey_ctx_ptr> digest_ctx(EVP_PKEY* pkey, bool for_signing) {
  pkey_ctx_ptr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  if (!ctx) return ssl_fail(error_code::crypto_error, "EVP_PKEY_CTX_new_from_pkey failed");
  const int init = for_signing ? EVP_PKEY_sign_init(ctx.get()) : EVP_PKEY_verify_init(ctx.get());
  // With the digest named, OpenSSL checks that the input is 32 bytes.
  if (init != 1 || EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()) != 1)
    return ssl_fail(error_code::crypto_error, "cannot set up ECDSA with SHA-256");
  return ctx;
}

}  // namespace

// --- signer ---

result<std::unique_ptr<openssl_signer>> openssl_signer::from_pem(std::string_view pem) {
  if (pem.size() > INT_MAX) return fail(error_code::invalid_key, "PEM text too large");
  const bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return ssl_fail(error_code::crypto_error, "BIO_new_mem_buf failed");
  pkey_ptr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_pass_phrase, nullptr));
  if (!pkey)
    return ssl_fail(error_code::invalid_key, "cannot parse private key PEM (encrypted keys are not supported)");
  if (!is_p256(pkey.get())) {
    ERR_clear_error();
    return fail(error_code::invalid_key, "not a P-256 key");
  }
  // A SEC1 file may carry a public key that does not belong to the private one; OpenSSL does not check on load.
  const pkey_ctx_ptr check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (!check || EVP_PKEY_pairwise_check(check.get()) != 1)
    return ssl_fail(error_code::invalid_key, "the public key in the file does not match the private key");
  auto der = canonical_spki(pkey.get());
  if (!der) return der.err();
  auto pub = public_key::from_spki_der(*der, /*require_canonical=*/true);
  if (!pub) return pub.err();
  return std::unique_ptr<openssl_signer>(new openssl_signer(pkey.release(), std::move(pub).value()));
}

openssl_signer::~openssl_signer() { EVP_PKEY_free(static_cast<EVP_PKEY*>(pkey_)); }

result<raw_signature> openssl_signer::sign_digest(const sha256_digest& digest) const {
  auto ctx = digest_ctx(static_cast<EVP_PKEY*>(pkey_), /*for_signing=*/true);
  if (!ctx) return ctx.err();
  std::size_t len = 0;
  if (EVP_PKEY_sign(ctx->get(), nullptr, &len, digest.data(), digest.size()) != 1)
    return ssl_fail(error_code::crypto_error, "ECDSA signing failed");
  std::vector<unsigned char> der(len);
  if (EVP_PKEY_sign(ctx->get(), der.data(), &len, digest.data(), digest.size()) != 1)
    return ssl_fail(error_code::crypto_error, "ECDSA signing failed");
  der.resize(len);
  auto raw = der_to_raw(der);
  if (!raw) return raw.err();
  normalize_low_s(*raw);  // OpenSSL leaves s in either half
  return raw;
}

// --- verifier ---

openssl_verifier::openssl_verifier(public_key key) : key_(std::move(key)), pkey_(nullptr) {
  const auto& der = key_.spki_der();
  const unsigned char* p = der.data();
  EVP_PKEY* pkey = der.empty() ? nullptr : d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size()));
  if (pkey != nullptr && p == der.data() + der.size() && is_p256(pkey)) {
    pkey_ = pkey;
  } else {
    EVP_PKEY_free(pkey);
    ERR_clear_error();
  }
}

openssl_verifier::~openssl_verifier() { EVP_PKEY_free(static_cast<EVP_PKEY*>(pkey_)); }

result<void> openssl_verifier::verify_digest(const sha256_digest& digest, const raw_signature& sig) const {
  const std::span<const std::uint8_t, 32> r(sig.data(), 32);
  const std::span<const std::uint8_t, 32> s(sig.data() + 32, 32);
  const auto zero = [](std::span<const std::uint8_t, 32> v) {
    return std::all_of(v.begin(), v.end(), [](std::uint8_t b) { return b == 0; });
  };
  if (zero(r) || zero(s)) return fail(error_code::bad_signature, "r or s is zero");
  // Protocol rule: only the low-s form is valid (OpenSSL itself accepts both).
  if (!is_low_s(s)) return fail(error_code::bad_signature, "s is in the high half (not normalised)");
  if (pkey_ == nullptr) return fail(error_code::invalid_key, "verifier has no valid public key");
  auto der = raw_to_der(sig);
  if (!der) return der.err();
  auto ctx = digest_ctx(static_cast<EVP_PKEY*>(pkey_), /*for_signing=*/false);
  if (!ctx) return ctx.err();
  const int rc = EVP_PKEY_verify(ctx->get(), der->data(), der->size(), digest.data(), digest.size());
  if (rc != 1) {
    ERR_clear_error();  // a forged signature is an expected failure, not an OpenSSL error worth reporting
    return fail(error_code::bad_signature, "signature does not verify");
  }
  return {};
}

verifier_factory openssl_verifier_factory() {
  return [](const public_key& key) -> std::unique_ptr<verifier> { return std::make_unique<openssl_verifier>(key); };
}

}  // namespace ec::protocol
