// What an OpenCL device is, read once through clGetDeviceInfo/clGetPlatformInfo: the protocol's device_info
// plus the facts the backend needs at run time (OpenCL C version, work-item limits, cache key strings).
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "cl_api.hpp"
#include "ec/protocol/messages.hpp"

namespace ec::backends::opencl {

struct device_facts {
  protocol::device_info info;
  std::string platform_name;
  std::string platform_version;  // "OpenCL 3.0 PoCL 3.1 ..." (what the platform says, not what kernels get)
  std::string driver_version;    // CL_DRIVER_VERSION
  std::string opencl_c_version;  // CL_DEVICE_OPENCL_C_VERSION, e.g. "OpenCL C 1.2 PoCL"
  int c_major = 1, c_minor = 0;  // parsed from opencl_c_version
  std::array<std::size_t, 3> max_work_item_sizes{1, 1, 1};
  std::uint64_t local_mem_bytes = 0;
  bool dedicated_local_mem = false;  // CL_LOCAL, not emulated in global memory
};

/// A string-valued clGetPlatformInfo; empty on failure.
std::string platform_string(cl_platform_id platform, cl_platform_info what);
/// A string-valued clGetDeviceInfo; empty on failure.
std::string device_string(cl_device_id device, cl_device_info what);
/// Reads everything about one device.
device_facts query_device(cl_platform_id platform, cl_device_id device);
/// Parses "OpenCL C <major>.<minor> ..."; false when the text does not start like that.
bool parse_opencl_c_version(const std::string& text, int& major, int& minor);

}  // namespace ec::backends::opencl
