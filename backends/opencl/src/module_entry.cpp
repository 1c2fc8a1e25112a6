// The exported entry points of libec_backend_opencl.so, which the registry finds with dlsym.
#include "ec/backends/module_abi.hpp"
#include "opencl_backend.hpp"

EC_BACKEND_MODULE(ec::backends::opencl::opencl_backend)
