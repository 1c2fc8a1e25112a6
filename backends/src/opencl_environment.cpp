// Process environment that OpenCL drivers read once, when the ICD loader first runs.
#include <cstdlib>

#include "ec/backends/registry.hpp"

namespace ec::backends {

void prepare_opencl_environment(const std::filesystem::path& state_dir) {
  if (std::getenv("POCL_CACHE_DIR")) return;  // the owner's choice wins
  const auto dir = state_dir / "pocl";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);  // if this fails PoCL reports no device, and probe says why
  ::setenv("POCL_CACHE_DIR", dir.c_str(), 0);
}

}  // namespace ec::backends
