// dtype sizes and names, and the overflow-safe byte size of a shape.
#include <limits>

#include "ec/protocol/messages.hpp"

namespace ec::protocol {

std::size_t dtype_size(dtype t) noexcept {
  switch (t) {
    case dtype::u8: return 1;
    case dtype::u32: case dtype::i32: case dtype::f32: return 4;
    case dtype::u64: case dtype::f64: return 8;
  }
  return 0;
}

std::string_view to_string(dtype t) noexcept {
  switch (t) {
    case dtype::u8: return "u8";
    case dtype::u32: return "u32";
    case dtype::i32: return "i32";
    case dtype::u64: return "u64";
    case dtype::f32: return "f32";
    case dtype::f64: return "f64";
  }
  return "invalid";
}

std::string_view to_string(result_status s) noexcept {
  switch (s) {
    case result_status::ok: return "ok";
    case result_status::kernel_error: return "kernel_error";
    case result_status::timeout: return "timeout";
    case result_status::rejected: return "rejected";
    case result_status::unsupported: return "unsupported";
    case result_status::cancelled: return "cancelled";
    case result_status::expired: return "expired";
  }
  return "invalid";
}

std::optional<std::uint64_t> tensor_byte_size(dtype t, std::span<const std::uint64_t> shape) {
  std::uint64_t total = dtype_size(t);
  if (total == 0) return std::nullopt;
  for (auto d : shape) {
    if (d != 0 && total > std::numeric_limits<std::uint64_t>::max() / d) return std::nullopt;
    total *= d;
  }
  return total;
}

}  // namespace ec::protocol
