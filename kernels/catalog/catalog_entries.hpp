// The specs defined in catalog/*.cpp, one per kernel, collected by catalog.cpp.
#pragma once

#include "ec/kernels/kernel_spec.hpp"

namespace ec::kernels {

extern const kernel_spec saxpy_spec;
extern const kernel_spec sgemm_spec;
extern const kernel_spec reduce_sum_spec;
extern const kernel_spec mandelbrot_spec;
extern const kernel_spec sha256_spec;
extern const kernel_spec histogram_spec;
extern const kernel_spec copy_spec;

}  // namespace ec::kernels
