// The module's two exported entry points (module_abi.hpp); everything else in the module is hidden.
#include "ec/backends/module_abi.hpp"
#include "vulkan_backend.hpp"

EC_BACKEND_MODULE(ec::backends::vulkan::vulkan_backend)
