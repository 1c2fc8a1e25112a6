// The quirks table. Entries are data, so a new driver bug is one line plus its reason, never a code path.
#include "ec/backends/quirks.hpp"

namespace ec::backends {
namespace {

constexpr quirk table[] = {
    {"vulkan", 0x10005, "llvmpipe", "", quirk_cpu_emulated,
     "", "Mesa lavapipe runs Vulkan on the CPU cores: correct, rarely the fastest (toolchain-notes: saxpy 3-5 GB/s)"},
    {"opencl", 0, "pthread-", "", quirk_cpu_emulated, "", "PoCL's pthread device runs OpenCL on the CPU cores"},
    {"vulkan", 0x14e4, "V3D", "", quirk_measure_not_assume,
     "", "Raspberry Pi V3D: usually slower than the Pi's own CPU; in the cpu group, chosen per kernel only when "
     "calibration says so"},
};

bool contains(std::string_view text, std::string_view part) { return part.empty() || text.find(part) != text.npos; }

bool matches(const quirk& q, const protocol::device_info& d) {
  return (q.backend.empty() || q.backend == d.backend) && (q.vendor_id == 0 || q.vendor_id == d.vendor_id) &&
         contains(d.name, q.name_contains) && contains(d.driver, q.driver_contains);
}

void split_into(std::string_view list, std::vector<std::string>& out) {
  while (!list.empty()) {
    const auto comma = list.find(',');
    const auto item = list.substr(0, comma);
    if (!item.empty()) out.emplace_back(item);
    if (comma == list.npos) break;
    list.remove_prefix(comma + 1);
  }
}

}  // namespace

std::span<const quirk> quirks_table() { return table; }

applied_quirks quirks_for(const protocol::device_info& device, std::span<const quirk> entries) {
  applied_quirks out;
  for (const auto& q : entries) {
    if (!matches(q, device)) continue;
    out.flags |= q.flags;
    if (q.flags & quirk_skip_kernels) split_into(q.kernels, out.skipped_kernels);
    out.notes.emplace_back(q.why);
  }
  return out;
}

}  // namespace ec::backends
