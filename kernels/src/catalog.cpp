// The catalogue: every built-in kernel, in the order probe and bench list them.
#include "ec/kernels/catalog.hpp"

#include "../catalog/catalog_entries.hpp"

namespace ec::kernels {

std::span<const kernel_spec* const> catalog() {
  static const kernel_spec* const all[] = {&saxpy_spec,      &sgemm_spec,  &reduce_sum_spec,
                                           &mandelbrot_spec, &sha256_spec, &histogram_spec, &copy_spec};
  return all;
}

const kernel_spec* find_kernel(std::string_view name) {
  for (const auto* k : catalog())
    if (k->name == name) return k;
  return nullptr;
}

}  // namespace ec::kernels
