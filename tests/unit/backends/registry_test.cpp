// Module loading: missing, broken and stale modules are reported with their reason and never stop the CPU backend.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "ec/backends/registry.hpp"

using namespace ec::backends;
namespace fs = std::filesystem;

namespace {

struct temp_dir {
  fs::path path;
  temp_dir() {
    char pattern[] = "/tmp/ec-registry-XXXXXX";
    path = ::mkdtemp(pattern);
  }
  ~temp_dir() { fs::remove_all(path); }
};

const backend_status& status_of(const registry& r, std::string_view name) {
  for (const auto& b : r.backends())
    if (b.name == name) return b;
  FAIL("no status for " << name);
  return r.backends().front();
}

}  // namespace

TEST_CASE("with an empty module folder only the CPU backend and its one device are listed, CPU last") {
  temp_dir empty;
  registry_options o;
  o.module_dir = empty.path;
  auto r = registry::load(o);
  REQUIRE(r->devices().size() == 1);
  CHECK(r->devices().front().info.backend == "cpu");
  CHECK(r->devices().front().info.resource_group == "cpu");
  REQUIRE(r->backends().size() == 3);
  CHECK(r->backends().back().name == "cpu");
  CHECK_FALSE(status_of(*r, "vulkan").available);
  CHECK(status_of(*r, "vulkan").why.find("not found") != std::string::npos);
  CHECK(status_of(*r, "opencl").why.find("not found") != std::string::npos);
}

TEST_CASE("a module file that is not a shared library is reported as unloadable") {
  temp_dir dir;
  std::ofstream(dir.path / "libec_backend_vulkan.so") << "not an ELF file";
  registry_options o;
  o.module_dir = dir.path;
  auto r = registry::load(o);
  CHECK(status_of(*r, "vulkan").why.find("cannot load module") != std::string::npos);
  CHECK(r->devices().size() == 1);
}

TEST_CASE("a module built for another API version is refused with both versions named") {
  temp_dir dir;
  fs::copy_file(EC_WRONG_VERSION_MODULE, dir.path / "libec_backend_opencl.so");
  registry_options o;
  o.module_dir = dir.path;
  auto r = registry::load(o);
  const auto& st = status_of(*r, "opencl");
  CHECK_FALSE(st.available);
  CHECK(st.why.find("API version 999") != std::string::npos);
  CHECK(r->devices().size() == 1);
}

TEST_CASE("a disabled backend is not loaded and says so") {
  registry_options o;
  o.disabled = {"vulkan", "opencl"};
  auto r = registry::load(o);
  CHECK(status_of(*r, "vulkan").why == "disabled by configuration");
  CHECK(status_of(*r, "opencl").why == "disabled by configuration");
  CHECK(r->devices().size() == 1);
}

TEST_CASE("EC_BACKEND_PATH chooses the module folder when none is configured") {
  temp_dir dir;
  ::setenv("EC_BACKEND_PATH", dir.path.c_str(), 1);
  auto r = registry::load({});
  ::unsetenv("EC_BACKEND_PATH");
  CHECK(r->module_dir() == dir.path);
  CHECK(r->devices().size() == 1);
}

TEST_CASE("resource groups: CPU-type devices share one, GPUs match by UUID, else by PCI ids") {
  using ec::protocol::device_type;
  auto make = [](device_type t, ec::protocol::bytes uuid, std::uint32_t vendor, std::uint32_t dev) {
    device_entry e;
    e.info.type = t;
    e.info.uuid = std::move(uuid);
    e.info.vendor_id = vendor;
    e.info.device_id = dev;
    return e;
  };
  std::vector<device_entry> d{
      make(device_type::cpu, ec::protocol::bytes(16, 1), 0x10005, 0),      // lavapipe
      make(device_type::cpu, {}, 0x8086, 0),                               // PoCL
      make(device_type::integrated_gpu, ec::protocol::bytes(16, 7), 0x10de, 0x1234),  // Jetson via Vulkan
      make(device_type::integrated_gpu, ec::protocol::bytes(16, 7), 0x10de, 0x1234),  // same GPU via OpenCL
      make(device_type::discrete_gpu, ec::protocol::bytes(16, 0), 0x1002, 0x73bf),    // zero UUID: PCI ids
      make(device_type::discrete_gpu, ec::protocol::bytes(16, 9), 0x1002, 0x73bf),    // another card, own UUID
  };
  assign_resource_groups(d);
  CHECK(d[0].info.resource_group == "cpu");
  CHECK(d[1].info.resource_group == "cpu");
  CHECK(d[2].info.resource_group == d[3].info.resource_group);
  CHECK(d[2].info.resource_group != "cpu");
  CHECK(d[4].info.resource_group == "gpu-1002-73bf");
  CHECK(d[5].info.resource_group != d[4].info.resource_group);
}

TEST_CASE("resource groups: a GPU quirked measure-not-assume (Raspberry Pi V3D) competes with the CPU") {
  device_entry v3d;
  v3d.info.backend = "vulkan";
  v3d.info.type = ec::protocol::device_type::integrated_gpu;
  v3d.info.vendor_id = 0x14e4;
  v3d.info.device_id = 0x2a;
  v3d.info.name = "V3D 4.2";
  device_entry other = v3d;
  other.info.vendor_id = 0x13b5;  // an Arm Mali: no such quirk, a group of its own
  other.info.name = "Mali-G52";
  std::vector<device_entry> d{v3d, other};
  assign_resource_groups(d);
  CHECK(d[0].info.resource_group == "cpu");
  CHECK(d[1].info.resource_group == "gpu-13b5-002a");
}

TEST_CASE("prepare_opencl_environment sets POCL_CACHE_DIR under the state folder only when unset") {
  temp_dir dir;
  ::unsetenv("POCL_CACHE_DIR");
  prepare_opencl_environment(dir.path);
  REQUIRE(std::getenv("POCL_CACHE_DIR") != nullptr);
  CHECK(fs::path(std::getenv("POCL_CACHE_DIR")) == dir.path / "pocl");
  CHECK(fs::is_directory(dir.path / "pocl"));
  ::setenv("POCL_CACHE_DIR", "/owner/choice", 1);
  prepare_opencl_environment(dir.path);
  CHECK(std::string(std::getenv("POCL_CACHE_DIR")) == "/owner/choice");
  ::unsetenv("POCL_CACHE_DIR");
}
