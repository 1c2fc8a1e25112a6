// The registry: loads the GPU backend modules found at run time, then the CPU backend (always last), and lists
// every device with its resource group. The agent binary links no GPU library; the modules do.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "ec/backends/backend.hpp"

namespace ec::backends {

/// Where modules are looked for when registry_options::module_dir is empty: $EC_BACKEND_PATH, else the install's
/// module folder when this binary runs from an install (module_location.hpp), else the build tree's.
std::filesystem::path default_module_dir();

/// Where to look for modules and which backends to leave out.
struct registry_options {
  /// Folder holding libec_backend_<name>.so; empty: default_module_dir().
  std::filesystem::path module_dir;
  backend_options backend;
  /// Backend names not to load, e.g. {"vulkan"}; "cpu" cannot be disabled.
  std::vector<std::string> disabled;
};

/// One backend as probe reports it.
struct backend_status {
  std::string name;
  bool available = false;
  std::string why;          // why not available (empty when available)
  std::string module_path;  // the shared module (empty for the built-in CPU backend)
};

/// A device and its DeviceInfo as advertised (resource_group set by the registry).
struct device_entry {
  device* dev = nullptr;
  protocol::device_info info;
};

class registry {
 public:
  /// Loads every module it can, in a fixed order (vulkan, opencl), then the CPU backend.
  static std::unique_ptr<registry> load(const registry_options& options);
  /// A registry over backends created by the caller (in-process embedding, tests with fake devices).
  static std::unique_ptr<registry> from_backends(std::vector<std::unique_ptr<backend>> backends);
  ~registry();
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;

  /// Every backend tried, in load order.
  [[nodiscard]] const std::vector<backend_status>& backends() const { return status_; }
  /// Every device found, GPU modules first, CPU last.
  [[nodiscard]] const std::vector<device_entry>& devices() const { return devices_; }
  /// The device with this id(), or nullptr.
  [[nodiscard]] const device_entry* find(std::string_view id) const;
  /// The folder modules were looked up in.
  [[nodiscard]] const std::filesystem::path& module_dir() const { return module_dir_; }

 private:
  registry() = default;
  struct loaded_module;
  std::filesystem::path module_dir_;
  std::vector<std::unique_ptr<loaded_module>> modules_;  // destroyed after the backends they created
  std::vector<std::unique_ptr<backend>> backends_;
  std::vector<backend_status> status_;
  std::vector<device_entry> devices_;
};

/// The built-in CPU backend (the registry adds it last on its own; for from_backends()).
std::unique_ptr<backend> make_cpu_backend(const backend_options& options);

/// Names the backend modules the registry knows, in load order.
std::vector<std::string> module_backend_names();

/// Devices on one chip share a resource group: every CPU-type device is "cpu"; GPUs seen through two APIs match
/// by UUID, else by PCI vendor and device id; anything else is a group of its own.
void assign_resource_groups(std::vector<device_entry>& devices);

/// PoCL reports no device when it cannot create its cache directory: sets POCL_CACHE_DIR to `state_dir`/pocl
/// when unset. Call at process start, before any thread or OpenCL loader runs.
void prepare_opencl_environment(const std::filesystem::path& state_dir);

}  // namespace ec::backends
