// Expected failures as values: one error code enum with a human message, and ec::result<T> to carry them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace ec {

/// Every expected failure of the protocol library (and later of the agent and aggregator).
enum class error_code : std::uint8_t {
  ok = 0,
  too_large,         // payload above the configured cap
  malformed,         // fails the FlatBuffers verifier, identifier, budget or a structural rule
  wrong_kind,        // envelope kind is not the one expected on this topic
  bad_key_id,        // key_id is not 32 bytes, or does not hash from the hello's public key
  bad_signature,     // signature is not 64 bytes, is high-s, or does not verify
  untrusted_key,     // key_id is not trusted for this kind
  misaddressed,      // body agent_id does not match the topic or the signer
  bad_enum,          // an enum field is out of range
  bad_tensor,        // dtype x shape does not equal the data length
  invalid_key,       // a key cannot be parsed, is not P-256, or is not canonical
  insecure_key_file, // a private key file readable by group or others
  io_error,          // a file could not be read or written
  crypto_error,      // the crypto library failed (entropy, signing)
  invalid_argument,  // a caller passed a value outside the protocol's rules
  unavailable,       // a backend, loader, driver or device is missing (the message says which and why)
  unsupported,       // a kernel, dtype or size this device or build cannot handle
  device_error,      // a GPU API call failed or a driver misbehaved (the API's error code in the message)
  timeout,           // the deadline passed before the work finished
  out_of_memory,     // an allocation on the host or the device failed
};

/// Short stable name of a code, e.g. "bad_signature" (for logs and counters).
std::string_view to_string(error_code code) noexcept;

/// An error code with a message for humans; the message never contains secrets or whole payloads.
struct error {
  error_code code = error_code::ok;
  std::string message;

  /// "code: message".
  [[nodiscard]] std::string what() const;
};

/// Builds an error; reads well at call sites: `return ec::fail(error_code::malformed, "...")`.
inline error fail(error_code code, std::string message) { return error{code, std::move(message)}; }

/// A value or an error (GCC 12 and clang 14 have no std::expected).
template <typename T>
class [[nodiscard]] result {
public:
  result(T value) : v_(std::in_place_index<0>, std::move(value)) {}      // NOLINT(google-explicit-constructor)
  result(error err) : v_(std::in_place_index<1>, std::move(err)) {}      // NOLINT(google-explicit-constructor)

  [[nodiscard]] bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  [[nodiscard]] const error& err() const& { return std::get<1>(v_); }
  [[nodiscard]] error_code code() const noexcept { return ok() ? error_code::ok : std::get<1>(v_).code; }

private:
  std::variant<T, error> v_;
};

/// A success without a value, or an error.
template <>
class [[nodiscard]] result<void> {
public:
  result() = default;
  result(error err) : err_(std::move(err)) {}  // NOLINT(google-explicit-constructor)

  [[nodiscard]] bool ok() const noexcept { return err_.code == error_code::ok; }
  explicit operator bool() const noexcept { return ok(); }
  [[nodiscard]] const error& err() const& { return err_; }
  [[nodiscard]] error_code code() const noexcept { return err_.code; }

private:
  error err_;
};

}  // namespace ec
