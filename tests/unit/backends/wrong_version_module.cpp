// A backend module as a stale build would leave it: right entry points, another API version.
#include <cstdint>

#include "ec/backends/backend.hpp"

extern "C" __attribute__((visibility("default"))) std::uint32_t ec_backend_api_version() { return 999; }
extern "C" __attribute__((visibility("default"))) ec::backends::backend* ec_backend_create(
    const ec::backends::backend_options*) {
  return nullptr;  // never called: the registry checks the version first
}
