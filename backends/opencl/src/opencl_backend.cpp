// Platform and device enumeration. A platform with zero devices is not an error to OpenCL, but it is the
// common failure on a service account: PoCL hides its device when it cannot create its cache folder.
#include "opencl_backend.hpp"

#include <cstdlib>

#include "cl_errors.hpp"
#include "device_query.hpp"

namespace ec::backends::opencl {
namespace {

constexpr std::string_view pocl_platform_name = "Portable Computing Language";

}  // namespace

std::string explain_no_devices(const std::vector<platform_summary>& platforms) {
  if (platforms.empty())
    return "no OpenCL platform: the ICD loader (libOpenCL.so.1) found no installable client driver; install "
           "one (pocl-opencl-icd, or the GPU vendor's driver) and check /etc/OpenCL/vendors or OCL_ICD_VENDORS";
  std::string why = "OpenCL platforms found but no usable device:";
  bool pocl_empty = false;
  for (const auto& p : platforms) {
    why += " '" + p.name + "' (" + std::to_string(p.devices) + " devices" +
           (p.failure.empty() ? std::string() : ", " + p.failure) + ");";
    pocl_empty = pocl_empty || (p.devices == 0 && p.name.find(pocl_platform_name) != std::string::npos);
  }
  why.pop_back();
  if (pocl_empty) {
    const char* dir = std::getenv("POCL_CACHE_DIR");
    why +=
        ". PoCL reports no device when it cannot create its cache directory; set POCL_CACHE_DIR to a "
        "writable folder before OpenCL loads (now ";
    why += dir ? std::string("'") + dir + "'" : std::string("unset");
    why += ")";
  }
  return why;
}

std::filesystem::path program_cache_dir(const backend_options& options) {
  // Own subfolder: the eviction bound is per backend and never touches another backend's files.
  return options.cache_dir.empty() ? std::filesystem::path() : options.cache_dir / "opencl";
}

opencl_backend::opencl_backend(const backend_options& options)
    : cache_(program_cache_dir(options), options.cache_max_bytes) {
  cl_uint count = 0;
  cl_int rc = clGetPlatformIDs(0, nullptr, &count);
  if (rc == CL_PLATFORM_NOT_FOUND_KHR || (rc == CL_SUCCESS && count == 0)) {
    why_ = explain_no_devices({});
    return;
  }
  if (rc != CL_SUCCESS) {
    why_ = cl_fail("clGetPlatformIDs", rc).message;
    return;
  }
  std::vector<cl_platform_id> platforms(count);
  if (rc = clGetPlatformIDs(count, platforms.data(), nullptr); rc != CL_SUCCESS) {
    why_ = cl_fail("clGetPlatformIDs", rc).message;
    return;
  }
  std::vector<platform_summary> summaries;
  for (std::size_t p = 0; p < platforms.size(); ++p) {
    platform_summary summary{platform_string(platforms[p], CL_PLATFORM_NAME), 0, {}};
    cl_uint n = 0;
    rc = clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, 0, nullptr, &n);
    if (rc != CL_SUCCESS && rc != CL_DEVICE_NOT_FOUND) summary.failure = cl_fail("clGetDeviceIDs", rc).message;
    std::vector<cl_device_id> ids(rc == CL_SUCCESS ? n : 0);
    if (!ids.empty() && (rc = clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, n, ids.data(), nullptr)) != CL_SUCCESS) {
      summary.failure = cl_fail("clGetDeviceIDs", rc).message;
      ids.clear();
    }
    summary.devices = ids.size();
    for (std::size_t d = 0; d < ids.size(); ++d) {
      auto device = opencl_device::create(platforms[p], ids[d], p, d, cache_.enabled() ? &cache_ : nullptr);
      if (device) {
        (*device)->set_custom_quota(options.custom_cache_entries);
        devices_.push_back(std::move(*device));
      } else {
        summary.failure += (summary.failure.empty() ? "" : "; ") + device.err().message;
      }
    }
    summaries.push_back(std::move(summary));
  }
  if (devices_.empty()) why_ = explain_no_devices(summaries);
}

std::vector<device*> opencl_backend::devices() {
  std::vector<device*> out;
  out.reserve(devices_.size());
  for (auto& d : devices_) out.push_back(d.get());
  return out;
}

}  // namespace ec::backends::opencl
