// The custom-kernel test code of tests/custom_kernels/: SPIR-V compiled by glslc at build time, OpenCL C read
// from the source tree. Test targets define EC_CUSTOM_KERNEL_SPV_DIR and EC_CUSTOM_KERNEL_SRC_DIR.
#pragma once

#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <string>

#include "ec/protocol/bytes.hpp"

namespace ec::test {

/// The bytes of a file; fails the test when it is missing (the build makes them: never a skip).
inline std::string read_test_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "missing test kernel " << path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// SPIR-V of tests/custom_kernels/<name>.comp.
inline protocol::bytes custom_spirv(const std::string& name) {
  const auto s = read_test_file(std::string(EC_CUSTOM_KERNEL_SPV_DIR) + "/" + name + ".spv");
  return {s.begin(), s.end()};
}

/// OpenCL C of tests/custom_kernels/<name>.cl.
inline std::string custom_opencl(const std::string& name) {
  return read_test_file(std::string(EC_CUSTOM_KERNEL_SRC_DIR) + "/" + name + ".cl");
}

}  // namespace ec::test
