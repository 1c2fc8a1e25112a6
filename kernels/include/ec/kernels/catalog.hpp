// The catalogue of built-in kernels, looked up by name.
#pragma once

#include <span>
#include <string_view>

#include "ec/kernels/kernel_spec.hpp"

namespace ec::kernels {

/// Every built-in kernel, in a fixed order.
std::span<const kernel_spec* const> catalog();
/// The kernel named `name`, or nullptr.
const kernel_spec* find_kernel(std::string_view name);

}  // namespace ec::kernels
