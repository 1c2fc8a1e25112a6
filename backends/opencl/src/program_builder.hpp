// Turns OpenCL C source into a built cl_program for one device: from the binary cache when it holds a binary
// the driver accepts, else from source (then the binary is stored for next time).
#pragma once

#include <cstdint>
#include <string>

#include "cl_handles.hpp"
#include "program_cache.hpp"

namespace ec::backends::opencl {

/// How a program was obtained.
enum class program_origin : std::uint8_t {
  cache_hit,         // binary from disk, accepted by the driver
  source,            // no usable cache entry (or no cache)
  source_after_bad,  // a cache entry existed but the driver rejected it; rebuilt and overwritten
};

struct built_program {
  program_handle program;
  program_origin origin = program_origin::source;
  std::uint64_t build_us = 0;
  std::string cache_warning;  // a cache store that failed (the program itself is fine)
};

/// The longest build log kept in an error message; drivers can print megabytes.
inline constexpr std::size_t max_build_log_chars = 4000;

/// Builds `id.source` with `id.options` for `device`; `cache` may be disabled. A failed source build is a
/// device_error carrying the (truncated) build log.
result<built_program> build_program(cl_context context, cl_device_id device, const program_identity& id,
                                    const program_cache& cache);

}  // namespace ec::backends::opencl
