// Program builds with the binary cache in front. A cached binary still needs clBuildProgram (it links the
// executable), and that call is where a driver rejects another version's binary, so it is the fallback point.
#include "program_builder.hpp"

#include <chrono>
#include <string>
#include <vector>

#include "cl_errors.hpp"

namespace ec::backends::opencl {
namespace {

std::uint64_t since_us(std::chrono::steady_clock::time_point start) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count());
}

std::string build_log(cl_program program, cl_device_id device) {
  std::size_t size = 0;
  if (clGetProgramBuildInfo(program, device, CL_PROGRAM_BUILD_LOG, 0, nullptr, &size) != CL_SUCCESS || size == 0)
    return {};
  std::string log(size, '\0');
  if (clGetProgramBuildInfo(program, device, CL_PROGRAM_BUILD_LOG, size, log.data(), nullptr) != CL_SUCCESS) return {};
  while (!log.empty() && (log.back() == '\0' || log.back() == '\n' || log.back() == ' ')) log.pop_back();
  if (log.size() > max_build_log_chars) log = log.substr(0, max_build_log_chars) + "\n[build log truncated]";
  return log;
}

// A program built from a cached binary, or nothing (any failure here means "build from source instead").
program_handle from_binary(cl_context context, cl_device_id device, const protocol::bytes& binary,
                           const std::string& options) {
  const std::size_t size = binary.size();
  const unsigned char* data = binary.data();
  cl_int binary_status = CL_SUCCESS, rc = CL_SUCCESS;
  program_handle program(clCreateProgramWithBinary(context, 1, &device, &size, &data, &binary_status, &rc));
  if (rc != CL_SUCCESS || binary_status != CL_SUCCESS || !program) return {};
  if (clBuildProgram(program.get(), 1, &device, options.c_str(), nullptr, nullptr) != CL_SUCCESS) return {};
  return program;
}

result<protocol::bytes> program_binary(cl_program program) {
  // One device per program here, so one size and one binary.
  std::size_t size = 0;
  if (const cl_int rc = clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, nullptr);
      rc != CL_SUCCESS)
    return cl_fail("clGetProgramInfo(CL_PROGRAM_BINARY_SIZES)", rc);
  if (size == 0) return fail(error_code::unsupported, "the driver returns no program binary");
  protocol::bytes binary(size);
  unsigned char* ptr = binary.data();
  if (const cl_int rc = clGetProgramInfo(program, CL_PROGRAM_BINARIES, sizeof ptr, &ptr, nullptr); rc != CL_SUCCESS)
    return cl_fail("clGetProgramInfo(CL_PROGRAM_BINARIES)", rc);
  return binary;
}

}  // namespace

result<built_program> build_program(cl_context context, cl_device_id device, const program_identity& id,
                                    const program_cache& cache) {
  const auto start = std::chrono::steady_clock::now();
  const std::string options(id.options);
  const auto key = program_key(id);
  built_program out;

  bool had_entry = false;
  if (auto binary = cache.load(key)) {
    had_entry = true;
    if (auto program = from_binary(context, device, *binary, options)) {
      out.program = std::move(program);
      out.origin = program_origin::cache_hit;
      out.build_us = since_us(start);
      return out;
    }
  } else if (cache.enabled()) {
    // A file that exists but does not load (corrupt, truncated) is also replaced below.
    std::error_code ec;
    had_entry = std::filesystem::exists(cache.path_for(key), ec);
  }

  const char* text = id.source.data();
  const std::size_t length = id.source.size();
  cl_int rc = CL_SUCCESS;
  program_handle program(clCreateProgramWithSource(context, 1, &text, &length, &rc));
  if (rc != CL_SUCCESS) return cl_fail("clCreateProgramWithSource", rc);
  rc = clBuildProgram(program.get(), 1, &device, options.c_str(), nullptr, nullptr);
  if (rc != CL_SUCCESS) {
    auto err = cl_fail("clBuildProgram", rc);
    if (const auto log = build_log(program.get(), device); !log.empty()) err.message += "; build log:\n" + log;
    return err;
  }
  out.origin = had_entry ? program_origin::source_after_bad : program_origin::source;
  if (cache.enabled()) {
    auto binary = program_binary(program.get());
    if (!binary) {
      out.cache_warning = binary.err().what();
    } else if (auto stored = cache.store(key, *binary); !stored) {
      out.cache_warning = stored.err().what();
    }
  }
  out.program = std::move(program);
  out.build_us = since_us(start);
  return out;
}

}  // namespace ec::backends::opencl
