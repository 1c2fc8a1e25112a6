// OpenCL status codes as names, and the ec::error every failed CL call turns into (device_error, name in it).
#pragma once

#include <string>
#include <string_view>

#include "cl_api.hpp"
#include "ec/protocol/error.hpp"

namespace ec::backends::opencl {

/// "CL_OUT_OF_RESOURCES" for -5; "CL_UNKNOWN_ERROR" for codes outside the 1.2 and KHR extension lists.
std::string_view cl_error_name(cl_int status) noexcept;

/// device_error: "<what> failed: CL_NAME (code)".
error cl_fail(std::string_view what, cl_int status);

}  // namespace ec::backends::opencl
