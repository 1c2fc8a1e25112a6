// Discovery: lavapipe is found through the run-time loader, with sensible DeviceInfo and limits.
#include <doctest/doctest.h>

#include "vulkan_test_support.hpp"

using namespace ec::backends::vulkan;
using namespace ec::backends::vulkan::test;

TEST_CASE("the vulkan backend finds lavapipe with validation on and describes it") {
  auto& b = shared_backend();
  auto& d = lavapipe(b);
  MESSAGE("instance creation with validation: " << b.instance_creation_us() << " us");
  CHECK(b.name() == "vulkan");
  CHECK(b.why_unavailable().empty());
  CHECK(b.devices().size() == b.vulkan_devices().size());

  const auto& info = d.info();
  CHECK(info.backend == "vulkan");
  CHECK(info.name.find("llvmpipe") != std::string::npos);
  CHECK(info.driver.find("llvmpipe") != std::string::npos);  // driverName from VkPhysicalDeviceDriverProperties
  CHECK(info.uuid.size() == 16);
  CHECK(info.type == ec::protocol::device_type::cpu);
  CHECK(info.vendor_id != 0);
  CHECK(info.memory_bytes > (std::uint64_t{256} << 20));
  CHECK(info.max_buffer_bytes == (std::uint64_t{128} << 20));  // lavapipe's maxStorageBufferRange
  CHECK(info.max_workgroup_size >= 256);
  CHECK(info.shared_memory_bytes >= 16384);
  CHECK(info.subgroup_size >= 1);
  CHECK(info.fp64);  // llvmpipe offers shaderFloat64
  CHECK(d.id().rfind("vulkan:", 0) == 0);
  CHECK(d.caps().limits.maxComputeWorkGroupCount[0] >= 65535);
  CHECK(d.maps_memory());  // one memory type, device-local and host-visible: no staging
}

TEST_CASE("two vulkan backends coexist in one process and enumerate the same devices") {
  vulkan_backend second(validated_options());
  auto& a = lavapipe(shared_backend());
  auto& b = lavapipe(second);
  CHECK(a.info().uuid == b.info().uuid);
  CHECK(a.id() == b.id());
}
