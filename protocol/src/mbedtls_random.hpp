// Private to ec_protocol: a CTR_DRBG seeded from the OS entropy source, for key generation and ECDSA blinding.
#pragma once

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>

#include <cstddef>
#include <string_view>

namespace ec::protocol::detail {

/// One seeded generator; made per operation so that no state survives a fork() or is shared between threads.
class mbedtls_random {
 public:
  explicit mbedtls_random(std::string_view personalization) {
    mbedtls_entropy_init(&entropy_);
    mbedtls_ctr_drbg_init(&drbg_);
    seed_rc_ =
        mbedtls_ctr_drbg_seed(&drbg_, mbedtls_entropy_func, &entropy_,
                              reinterpret_cast<const unsigned char*>(personalization.data()), personalization.size());
  }
  ~mbedtls_random() {
    mbedtls_ctr_drbg_free(&drbg_);
    mbedtls_entropy_free(&entropy_);
  }
  mbedtls_random(const mbedtls_random&) = delete;
  mbedtls_random& operator=(const mbedtls_random&) = delete;

  /// 0 when seeding worked, else the Mbed TLS error code.
  [[nodiscard]] int seed_error() const { return seed_rc_; }

  /// The f_rng callback Mbed TLS functions take; p_rng is a mbedtls_random*.
  static int generate(void* self, unsigned char* out, std::size_t len) {
    return mbedtls_ctr_drbg_random(&static_cast<mbedtls_random*>(self)->drbg_, out, len);
  }

 private:
  mbedtls_entropy_context entropy_;
  mbedtls_ctr_drbg_context drbg_;
  int seed_rc_ = 0;
};

}  // namespace ec::protocol::detail
