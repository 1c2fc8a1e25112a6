// Element-wise comparison of float outputs: |a - b| <= atol + rtol * |b|; NaN only matches NaN,
// infinities must match exactly, -0 equals +0.
#pragma once

#include <cstddef>
#include <optional>

#include "ec/protocol/messages.hpp"

namespace ec::protocol {

/// True when two scalars agree within tolerance, by the protocol's rules.
bool within_tolerance(double a, double b, double rtol, double atol);

/// Where two tensors disagree, if they do.
struct tolerance_mismatch {
  std::size_t index = 0;  // first element that differs (0 for a name, dtype or shape mismatch)
  std::string reason;
};

/// Compares `a` against reference `b`: names, dtypes and shapes must be equal; F32/F64 element-wise within
/// tolerance, integer dtypes bit-exact. Returns nothing when they agree.
std::optional<tolerance_mismatch> compare_tensors(const tensor_ref& a, const tensor_ref& b, double rtol,
                                                  double atol);

}  // namespace ec::protocol
