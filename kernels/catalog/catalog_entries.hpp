// The specs defined in catalog/*.cpp, one per kernel, collected by catalog.cpp.
#pragma once

#include "ec/kernels/kernel_spec.hpp"

namespace ec::kernels {

extern const kernel_spec saxpy_spec;

}  // namespace ec::kernels
