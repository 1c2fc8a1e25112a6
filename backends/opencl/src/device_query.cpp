// Device identity and limits from clGetDeviceInfo. Only 1.2 queries, plus cl_khr_device_uuid when advertised.
#include "device_query.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <vector>

namespace ec::backends::opencl {
namespace {

template <typename T>
T device_value(cl_device_id device, cl_device_info what, T fallback = T{}) {
  T v{};
  return clGetDeviceInfo(device, what, sizeof v, &v, nullptr) == CL_SUCCESS ? v : fallback;
}

// Drivers include the terminating NUL in the size, and some pad with more; keep the text only.
std::string trim_c_string(std::vector<char>& buf) {
  std::string s(buf.data(), std::find(buf.begin(), buf.end(), '\0') - buf.begin());
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n')) s.pop_back();
  return s;
}

bool has_extension(const std::string& extensions, std::string_view name) {
  // Whole-word match: "cl_khr_fp16" must not match inside "cl_khr_fp16_something".
  for (std::size_t at = extensions.find(name); at != std::string::npos; at = extensions.find(name, at + 1)) {
    const bool starts = at == 0 || extensions[at - 1] == ' ';
    const std::size_t end = at + name.size();
    if (starts && (end == extensions.size() || extensions[end] == ' ')) return true;
  }
  return false;
}

std::uint32_t clamp_u32(std::uint64_t v) {
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(v, std::numeric_limits<std::uint32_t>::max()));
}

}  // namespace

std::string platform_string(cl_platform_id platform, cl_platform_info what) {
  std::size_t size = 0;
  if (clGetPlatformInfo(platform, what, 0, nullptr, &size) != CL_SUCCESS || size == 0) return {};
  std::vector<char> buf(size + 1, '\0');
  if (clGetPlatformInfo(platform, what, size, buf.data(), nullptr) != CL_SUCCESS) return {};
  return trim_c_string(buf);
}

std::string device_string(cl_device_id device, cl_device_info what) {
  std::size_t size = 0;
  if (clGetDeviceInfo(device, what, 0, nullptr, &size) != CL_SUCCESS || size == 0) return {};
  std::vector<char> buf(size + 1, '\0');
  if (clGetDeviceInfo(device, what, size, buf.data(), nullptr) != CL_SUCCESS) return {};
  return trim_c_string(buf);
}

bool parse_opencl_c_version(const std::string& text, int& major, int& minor) {
  int ma = 0, mi = 0;
  if (std::sscanf(text.c_str(), "OpenCL C %d.%d", &ma, &mi) != 2) return false;
  major = ma;
  minor = mi;
  return true;
}

device_facts query_device(cl_platform_id platform, cl_device_id device) {
  device_facts f;
  f.platform_name = platform_string(platform, CL_PLATFORM_NAME);
  f.platform_version = platform_string(platform, CL_PLATFORM_VERSION);
  f.driver_version = device_string(device, CL_DRIVER_VERSION);
  // Kernels are compiled for the device's OpenCL C, which can be older than the platform's API version
  // (PoCL 3.1: platform "OpenCL 3.0", OpenCL C 1.2).
  f.opencl_c_version = device_string(device, CL_DEVICE_OPENCL_C_VERSION);
  if (!parse_opencl_c_version(f.opencl_c_version, f.c_major, f.c_minor)) {
    f.c_major = 1;  // a 1.x device without the query (1.0) compiles OpenCL C 1.0
    f.c_minor = 0;
  }
  const std::string extensions = device_string(device, CL_DEVICE_EXTENSIONS);

  auto& d = f.info;
  d.backend = "opencl";
  d.name = device_string(device, CL_DEVICE_NAME);
  d.driver = f.driver_version + "; " + f.platform_name + " (" + f.platform_version + "); " + f.opencl_c_version;
  if (has_extension(extensions, "cl_khr_device_uuid")) {
    std::array<std::uint8_t, CL_UUID_SIZE_KHR> uuid{};
    if (clGetDeviceInfo(device, CL_DEVICE_UUID_KHR, uuid.size(), uuid.data(), nullptr) == CL_SUCCESS)
      d.uuid.assign(uuid.begin(), uuid.end());
  }
  const auto type = device_value<cl_device_type>(device, CL_DEVICE_TYPE);
  if (type & CL_DEVICE_TYPE_CPU) {
    d.type = protocol::device_type::cpu;
  } else if (type & CL_DEVICE_TYPE_GPU) {
    // Mali and Adreno share the SoC's memory and say so; a PCIe card does not.
    d.type = device_value<cl_bool>(device, CL_DEVICE_HOST_UNIFIED_MEMORY) ? protocol::device_type::integrated_gpu
                                                                          : protocol::device_type::discrete_gpu;
  } else {
    d.type = protocol::device_type::other;
  }
  d.vendor_id = device_value<cl_uint>(device, CL_DEVICE_VENDOR_ID);
  d.memory_bytes = device_value<cl_ulong>(device, CL_DEVICE_GLOBAL_MEM_SIZE);
  d.max_buffer_bytes = device_value<cl_ulong>(device, CL_DEVICE_MAX_MEM_ALLOC_SIZE);
  d.max_workgroup_size = clamp_u32(device_value<std::size_t>(device, CL_DEVICE_MAX_WORK_GROUP_SIZE, 1));
  f.local_mem_bytes = device_value<cl_ulong>(device, CL_DEVICE_LOCAL_MEM_SIZE);
  f.dedicated_local_mem = device_value<cl_device_local_mem_type>(device, CL_DEVICE_LOCAL_MEM_TYPE) == CL_LOCAL;
  d.shared_memory_bytes = clamp_u32(f.local_mem_bytes);
  d.fp16 = has_extension(extensions, "cl_khr_fp16");
  d.fp64 = has_extension(extensions, "cl_khr_fp64") ||
           device_value<cl_device_fp_config>(device, CL_DEVICE_DOUBLE_FP_CONFIG) != 0;
  // 8-bit stores are core from OpenCL C 1.1 on; 1.0 needs the extension.
  d.int8 = has_extension(extensions, "cl_khr_byte_addressable_store") || f.c_major > 1 || f.c_minor >= 1;

  const auto dims = device_value<cl_uint>(device, CL_DEVICE_MAX_WORK_ITEM_DIMENSIONS, 1);
  std::vector<std::size_t> sizes(std::max<cl_uint>(dims, 3), 1);
  if (clGetDeviceInfo(device, CL_DEVICE_MAX_WORK_ITEM_SIZES, dims * sizeof(std::size_t), sizes.data(), nullptr) ==
      CL_SUCCESS)
    std::copy_n(sizes.begin(), 3, f.max_work_item_sizes.begin());
  return f;
}

}  // namespace ec::backends::opencl
