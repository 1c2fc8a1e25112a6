// Resource groups: devices that are one piece of silicon seen through several APIs share slots and are
// calibrated as alternatives (architecture.md), so their throughput is never added up.
#include <algorithm>
#include <cstdio>

#include "ec/backends/quirks.hpp"
#include "ec/backends/registry.hpp"

namespace ec::backends {
namespace {

std::string hex(const protocol::bytes& b) {
  std::string s;
  char buf[3];
  for (auto c : b) {
    std::snprintf(buf, sizeof buf, "%02x", c);
    s += buf;
  }
  return s;
}

bool meaningful_uuid(const protocol::bytes& u) {
  return u.size() == 16 && std::any_of(u.begin(), u.end(), [](std::uint8_t c) { return c != 0; });
}

}  // namespace

void assign_resource_groups(std::vector<device_entry>& devices) {
  for (auto& d : devices) {
    auto& info = d.info;
    if (info.type == protocol::device_type::cpu) {
      info.resource_group = "cpu";  // lavapipe, PoCL and the CPU backend: the same cores
    } else if ((quirks_for(info).flags & quirk_measure_not_assume) != 0) {
      // A GPU that is often slower than its host's CPU (Raspberry Pi V3D) competes with the CPU on measurement,
      // per kernel, instead of taking every task it passes in a group of its own. It shares the SoC's memory
      // bandwidth and needs a CPU core to drive it, so running both at once would gain little.
      info.resource_group = "cpu";
    } else if (meaningful_uuid(info.uuid)) {
      info.resource_group = "gpu-" + hex(info.uuid);
    } else if (info.vendor_id != 0 && info.device_id != 0) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "gpu-%04x-%04x", info.vendor_id, info.device_id);
      info.resource_group = buf;
    } else {
      info.resource_group = d.dev->id();
    }
  }
}

}  // namespace ec::backends
