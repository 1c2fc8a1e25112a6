// The protocol's tolerance rule; integer outputs are compared bit-exact.
#include "ec/protocol/tolerance.hpp"

#include <cmath>
#include <cstring>

namespace ec::protocol {

bool within_tolerance(double a, double b, double rtol, double atol) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (std::isinf(a) || std::isinf(b)) return a == b;  // same infinity, same sign
  return std::fabs(a - b) <= atol + rtol * std::fabs(b);  // -0 == +0 falls out of the arithmetic
}

namespace {

template <typename T>
std::optional<tolerance_mismatch> compare_floats(byte_span a, byte_span b, double rtol, double atol) {
  const std::size_t n = a.size() / sizeof(T);
  for (std::size_t i = 0; i < n; ++i) {
    T x;
    T y;
    std::memcpy(&x, a.data() + i * sizeof(T), sizeof(T));  // tensors are little-endian; hosts are too
    std::memcpy(&y, b.data() + i * sizeof(T), sizeof(T));
    if (!within_tolerance(static_cast<double>(x), static_cast<double>(y), rtol, atol))
      return tolerance_mismatch{i, "element " + std::to_string(i) + ": " + std::to_string(x) + " vs " +
                                       std::to_string(y)};
  }
  return std::nullopt;
}

}  // namespace

std::optional<tolerance_mismatch> compare_tensors(const tensor_ref& a, const tensor_ref& b, double rtol,
                                                  double atol) {
  if (a.name != b.name) return tolerance_mismatch{0, "names differ"};
  if (a.type != b.type) return tolerance_mismatch{0, "dtypes differ"};
  if (a.shape != b.shape) return tolerance_mismatch{0, "shapes differ"};
  if (a.data.size() != b.data.size()) return tolerance_mismatch{0, "data lengths differ"};
  switch (a.type) {
    case dtype::f32: return compare_floats<float>(a.data, b.data, rtol, atol);
    case dtype::f64: return compare_floats<double>(a.data, b.data, rtol, atol);
    default: break;
  }
  for (std::size_t i = 0; i < a.data.size(); ++i) {
    if (a.data[i] != b.data[i]) {
      const std::size_t elem = dtype_size(a.type);
      return tolerance_mismatch{elem ? i / elem : i, "integer element differs"};
    }
  }
  return std::nullopt;
}

}  // namespace ec::protocol
