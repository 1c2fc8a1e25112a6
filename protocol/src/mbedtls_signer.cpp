// Mbed TLS signer and verifier (deterministic ECDSA P-256, raw r||s, low-s), and the low-s arithmetic they share
// with every other implementation of the interface.
#include "ec/protocol/mbedtls_signer.hpp"

#include <mbedtls/bignum.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/pk.h>

#include <algorithm>
#include <array>
#include <mutex>

#include "mbedtls_random.hpp"

namespace ec::protocol {
namespace {

using scalar = std::array<std::uint8_t, 32>;  // big-endian

// The order n of the P-256 group (SEC 2, section 2.4.2).
constexpr scalar p256_order = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
                               0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17,
                               0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};

constexpr scalar shifted_right_once(const scalar& v) {
  scalar out{};
  unsigned carry = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    out[i] = static_cast<std::uint8_t>((carry << 7) | (v[i] >> 1));
    carry = v[i] & 1u;
  }
  return out;
}

// floor(n / 2): s <= half_order is the low half.
constexpr scalar half_order = shifted_right_once(p256_order);
static_assert(half_order[0] == 0x7f && half_order[31] == 0xa8, "floor(n/2) of P-256");

// Compares two big-endian numbers of 32 bytes: <0, 0, >0.
int compare(std::span<const std::uint8_t, 32> a, const scalar& b) {
  const auto [ia, ib] = std::mismatch(a.begin(), a.end(), b.begin());
  if (ia == a.end()) return 0;
  return *ia < *ib ? -1 : 1;
}

bool is_zero(std::span<const std::uint8_t, 32> v) {
  return std::all_of(v.begin(), v.end(), [](std::uint8_t b) { return b == 0; });
}

// v := n - v, for 0 < v < n.
void negate_mod_order(std::span<std::uint8_t, 32> v) {
  int borrow = 0;
  for (std::size_t i = v.size(); i-- > 0;) {
    int d = int{p256_order[i]} - int{v[i]} - borrow;
    borrow = d < 0 ? 1 : 0;
    v[i] = static_cast<std::uint8_t>(d + (borrow << 8));
  }
}

std::span<std::uint8_t, 32> s_of(raw_signature& sig) { return std::span<std::uint8_t, 32>(sig.data() + 32, 32); }
std::span<const std::uint8_t, 32> s_of(const raw_signature& sig) {
  return std::span<const std::uint8_t, 32>(sig.data() + 32, 32);
}
std::span<const std::uint8_t, 32> r_of(const raw_signature& sig) {
  return std::span<const std::uint8_t, 32>(sig.data(), 32);
}

// Owns an mbedtls_mpi.
struct mpi {
  mbedtls_mpi v;
  mpi() { mbedtls_mpi_init(&v); }
  ~mpi() { mbedtls_mpi_free(&v); }
  mpi(const mpi&) = delete;
  mpi& operator=(const mpi&) = delete;
};

// Mbed TLS 2.28 caches the comb table for the base point inside the group on first use (mbedtls_ecp_group.T),
// so even a "read-only" sign or verify writes to the group: calls sharing a group must not overlap.
std::mutex sign_lock;

}  // namespace

// --- low-s (signer.hpp) ---

bool is_low_s(std::span<const std::uint8_t, 32> s) { return !is_zero(s) && compare(s, half_order) <= 0; }

void normalize_low_s(raw_signature& sig) {
  auto s = s_of(sig);
  if (!is_zero(s) && compare(s, half_order) > 0 && compare(s, p256_order) < 0) negate_mod_order(s);
}

raw_signature high_s_twin(const raw_signature& sig) {
  raw_signature twin = sig;
  auto s = s_of(twin);
  if (!is_zero(s) && compare(s, p256_order) < 0) negate_mod_order(s);
  return twin;
}

// --- signer ---

mbedtls_signer::mbedtls_signer(private_key key) : key_(std::move(key)) {}

result<raw_signature> mbedtls_signer::sign_digest(const sha256_digest& digest) const {
  auto* pk = static_cast<mbedtls_pk_context*>(key_.native_handle());
  if (pk == nullptr || mbedtls_pk_get_type(pk) != MBEDTLS_PK_ECKEY)
    return fail(error_code::crypto_error, "mbedtls_signer holds no EC key");
  mbedtls_ecp_keypair* kp = mbedtls_pk_ec(*pk);
  // k comes from RFC 6979; the generator only blinds the scalar multiplication against side channels.
  detail::mbedtls_random rng("ec_protocol ecdsa blinding");
  if (rng.seed_error() != 0) return fail(error_code::crypto_error, "cannot seed the DRBG for blinding");
  mpi r;
  mpi s;
  int rc = 0;
  {
    const std::lock_guard<std::mutex> lock(sign_lock);
    rc = mbedtls_ecdsa_sign_det_ext(&kp->grp, &r.v, &s.v, &kp->d, digest.data(), digest.size(), MBEDTLS_MD_SHA256,
                                    &detail::mbedtls_random::generate, &rng);
  }
  raw_signature sig{};
  if (rc == 0) rc = mbedtls_mpi_write_binary(&r.v, sig.data(), 32);
  if (rc == 0) rc = mbedtls_mpi_write_binary(&s.v, sig.data() + 32, 32);
  if (rc != 0) return fail(error_code::crypto_error, "ECDSA signing failed (mbedtls error " + std::to_string(rc) + ")");
  normalize_low_s(sig);
  return sig;
}

// --- verifier ---

namespace {

// What mbedtls_verifier::ctx_ points to: the key loaded once, and the lock its group needs (see sign_lock).
struct verifier_state {
  mbedtls_ecdsa_context ecdsa;
  std::mutex lock;
  verifier_state() { mbedtls_ecdsa_init(&ecdsa); }
  ~verifier_state() { mbedtls_ecdsa_free(&ecdsa); }
  verifier_state(const verifier_state&) = delete;
  verifier_state& operator=(const verifier_state&) = delete;
};

}  // namespace

mbedtls_verifier::mbedtls_verifier(public_key key) : key_(std::move(key)), ctx_(nullptr) {
  auto state = std::make_unique<verifier_state>();
  const auto& point = key_.point();
  if (mbedtls_ecp_group_load(&state->ecdsa.grp, MBEDTLS_ECP_DP_SECP256R1) == 0 &&
      mbedtls_ecp_point_read_binary(&state->ecdsa.grp, &state->ecdsa.Q, point.data(), point.size()) == 0 &&
      mbedtls_ecp_check_pubkey(&state->ecdsa.grp, &state->ecdsa.Q) == 0)
    ctx_ = state.release();
  // else ctx_ stays null (a default-constructed public_key): every verify fails
}

mbedtls_verifier::~mbedtls_verifier() { delete static_cast<verifier_state*>(ctx_); }

result<void> mbedtls_verifier::verify_digest(const sha256_digest& digest, const raw_signature& sig) const {
  if (is_zero(r_of(sig)) || is_zero(s_of(sig))) return fail(error_code::bad_signature, "r or s is zero");
  // Protocol rule: only the low-s form is valid, so a signature cannot be re-encoded into a second valid one.
  if (!is_low_s(s_of(sig))) return fail(error_code::bad_signature, "s is in the high half (not normalised)");
  auto* state = static_cast<verifier_state*>(ctx_);
  if (state == nullptr) return fail(error_code::invalid_key, "verifier has no valid public key");
  mpi r;
  mpi s;
  if (mbedtls_mpi_read_binary(&r.v, sig.data(), 32) != 0 || mbedtls_mpi_read_binary(&s.v, sig.data() + 32, 32) != 0)
    return fail(error_code::crypto_error, "out of memory reading the signature");
  int rc = 0;
  {
    const std::lock_guard<std::mutex> lock(state->lock);
    // Rejects r >= n itself (r and s must lie in [1, n-1]).
    rc = mbedtls_ecdsa_verify(&state->ecdsa.grp, digest.data(), digest.size(), &state->ecdsa.Q, &r.v, &s.v);
  }
  if (rc != 0) return fail(error_code::bad_signature, "signature does not verify");
  return {};
}

verifier_factory mbedtls_verifier_factory() {
  return [](const public_key& key) -> std::unique_ptr<verifier> { return std::make_unique<mbedtls_verifier>(key); };
}

}  // namespace ec::protocol
