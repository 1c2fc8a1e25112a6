// SHA-256 over Mbed TLS 2.28 (the `_ret` API; the void-returning functions are deprecated in 2.x): the choice
// where OpenSSL is absent or not wanted (EC_SHA256_IMPLEMENTATION=mbedtls, e.g. the firmware build).
#include "ec/protocol/sha256.hpp"

#include <mbedtls/sha256.h>

#include <new>
#include <stdexcept>
#include <string>

namespace ec::protocol {
namespace {

// The header keeps the context opaque so that callers need no Mbed TLS include path.
constexpr std::size_t opaque_size = 128;
constexpr std::size_t opaque_align = 8;
static_assert(sizeof(mbedtls_sha256_context) <= opaque_size, "sha256::ctx_ is too small for mbedtls_sha256_context");
static_assert(alignof(mbedtls_sha256_context) <= opaque_align, "sha256::ctx_ is under-aligned");

// The software implementation cannot fail; a failure means a broken build (an ALT implementation), and a
// silently wrong digest would be worse than an exception.
void check(int rc, const char* what) {
  if (rc != 0) throw std::runtime_error(std::string("mbedtls ") + what + " failed: " + std::to_string(rc));
}

mbedtls_sha256_context* as_ctx(unsigned char* opaque) {
  return std::launder(reinterpret_cast<mbedtls_sha256_context*>(opaque));
}

}  // namespace

sha256::sha256() {
  auto* ctx = new (ctx_) mbedtls_sha256_context;
  mbedtls_sha256_init(ctx);
  check(mbedtls_sha256_starts_ret(ctx, /*is224=*/0), "sha256_starts");
}

sha256::~sha256() { mbedtls_sha256_free(as_ctx(ctx_)); }

sha256& sha256::update(byte_span data) {
  if (!data.empty()) check(mbedtls_sha256_update_ret(as_ctx(ctx_), data.data(), data.size()), "sha256_update");
  return *this;
}

sha256_digest sha256::finish() {
  sha256_digest out{};
  check(mbedtls_sha256_finish_ret(as_ctx(ctx_), out.data()), "sha256_finish");
  return out;
}

sha256_digest sha256_of(byte_span data) { return sha256().update(data).finish(); }

}  // namespace ec::protocol
