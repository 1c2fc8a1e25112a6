// The entry points a backend module (a shared library loaded with dlopen) exports. Modules are built from the
// same source tree as the agent; the version guards against a stale module left in the module folder.
#pragma once

#include <cstdint>

#include "ec/backends/backend.hpp"

/// Bumped whenever backend.hpp, device.hpp or kernel_spec.hpp change in a way that breaks binary compatibility.
#define EC_BACKEND_API_VERSION 2u  // 2: device::run_custom

extern "C" {
/// Returns EC_BACKEND_API_VERSION as the module was built.
using ec_backend_api_version_fn = std::uint32_t (*)();
/// Creates the backend; never returns null (a backend without devices reports why_unavailable()).
using ec_backend_create_fn = ec::backends::backend* (*)(const ec::backends::backend_options* options);
}

/// Symbol names looked up by the registry.
#define EC_BACKEND_API_VERSION_SYMBOL "ec_backend_api_version"
#define EC_BACKEND_CREATE_SYMBOL "ec_backend_create"

/// Defines both entry points in a module: EC_BACKEND_MODULE(my_backend) with my_backend(const backend_options&).
#define EC_BACKEND_MODULE(type)                                                                     \
  extern "C" __attribute__((visibility("default"))) std::uint32_t ec_backend_api_version() {       \
    return EC_BACKEND_API_VERSION;                                                                  \
  }                                                                                                 \
  extern "C" __attribute__((visibility("default"))) ec::backends::backend* ec_backend_create(      \
      const ec::backends::backend_options* options) {                                               \
    return new type(*options);                                                                      \
  }
