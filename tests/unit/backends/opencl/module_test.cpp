// The built module as the registry sees it: dlopen, the API version symbol, and a backend with PoCL in it.
#include <dlfcn.h>

#include "ec/backends/module_abi.hpp"
#include "opencl_test_support.hpp"

namespace ec::backends::opencl::test {

TEST_CASE("the built module loads with dlopen, reports the API version and finds PoCL") {
  const std::string path = std::string(EC_MODULE_DIR) + "/libec_backend_opencl.so";
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  INFO(path << ": " << (handle ? "" : ::dlerror()));
  REQUIRE(handle != nullptr);
  const auto version = reinterpret_cast<ec_backend_api_version_fn>(::dlsym(handle, EC_BACKEND_API_VERSION_SYMBOL));
  const auto create = reinterpret_cast<ec_backend_create_fn>(::dlsym(handle, EC_BACKEND_CREATE_SYMBOL));
  REQUIRE(static_cast<bool>(version));
  REQUIRE(static_cast<bool>(create));
  CHECK(version() == EC_BACKEND_API_VERSION);
  {
    const backend_options options;
    std::unique_ptr<backend> b(create(&options));
    REQUIRE(b != nullptr);
    CHECK(b->name() == "opencl");
    INFO("why_unavailable: " << b->why_unavailable());
    REQUIRE_FALSE(b->devices().empty());
    CHECK(b->devices()[0]->info().backend == "opencl");
    // The module's implementation must not leak into the global namespace beyond the two entry points.
    CHECK(::dlsym(handle, "_ZN2ec8backends6opencl14opencl_backendC1ERKNS0_15backend_optionsE") == nullptr);
  }
  ::dlclose(handle);
}

}  // namespace ec::backends::opencl::test
