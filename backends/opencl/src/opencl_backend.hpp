// The OpenCL backend: every device of every platform the ICD loader finds, or a sentence saying why none.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ec/backends/backend.hpp"
#include "opencl_device.hpp"
#include "program_cache.hpp"

namespace ec::backends::opencl {

/// What enumeration saw on one platform (input of the why_unavailable() text).
struct platform_summary {
  std::string name;
  std::size_t devices = 0;  // clGetDeviceIDs count
  std::string failure;      // a CL error while enumerating or opening its devices; empty if none
};

/// The why_unavailable() sentence for platforms that yielded no usable device (empty list: no platform).
std::string explain_no_devices(const std::vector<platform_summary>& platforms);

/// The folder under backend_options::cache_dir that holds program binaries ("<cache_dir>/opencl").
std::filesystem::path program_cache_dir(const backend_options& options);

class opencl_backend final : public backend {
 public:
  explicit opencl_backend(const backend_options& options);
  [[nodiscard]] std::string name() const override { return "opencl"; }
  [[nodiscard]] std::vector<device*> devices() override;
  [[nodiscard]] std::string why_unavailable() const override { return why_; }

  /// The concrete devices (tests and probe read facts() and stats()).
  [[nodiscard]] const std::vector<std::unique_ptr<opencl_device>>& opencl_devices() const { return devices_; }

 private:
  // Declared before the devices: they hold a pointer to it.
  program_cache cache_;
  std::vector<std::unique_ptr<opencl_device>> devices_;
  std::string why_;
};

}  // namespace ec::backends::opencl
