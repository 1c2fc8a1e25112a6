// A minimal SPIR-V reader: the header and the OpCapability instructions, which come first in every module
// (SPIR-V spec 2.4 "Logical Layout of a Module"), so parsing stops at the first other instruction.
#include "spirv_requirements.hpp"

#include <string>

namespace ec::backends::vulkan {
namespace {

constexpr std::uint32_t spirv_magic = 0x07230203;
constexpr std::uint32_t op_capability = 17;

// SPIR-V versions a Vulkan version must consume (Vulkan spec, "Versions and Formats").
std::uint32_t vulkan_for_spirv(std::uint32_t spirv_minor) {
  if (spirv_minor == 0) return VK_API_VERSION_1_0;
  if (spirv_minor <= 3) return VK_API_VERSION_1_1;
  if (spirv_minor <= 5) return VK_API_VERSION_1_2;
  return VK_API_VERSION_1_3;
}

// Whether the device offers a capability; ones this table does not know are refused by the caller.
enum class verdict { yes, no, unknown };

verdict offers(std::uint32_t cap, const device_caps& c) {
  const auto& f = c.features;
  const auto b = [](bool v) { return v ? verdict::yes : verdict::no; };
  const auto subgroup = [&](VkSubgroupFeatureFlags bit) { return b((c.subgroup_ops & bit) != 0); };
  switch (cap) {
    case 0:  // Matrix
    case 1:  // Shader
      return verdict::yes;
    case 9:
      return b(f.float16);
    case 10:
      return b(f.float64);
    case 11:
      return b(f.int64);
    case 12:
      return b(f.int64_atomics);
    case 22:
      return b(f.int16);
    case 39:
      return b(f.int8);
    case 4433:
      return b(f.storage16);  // StorageBuffer16BitAccess
    case 4434:
      return b(f.uniform_storage16);  // UniformAndStorageBuffer16BitAccess
    case 4448:
      return b(f.storage8);  // StorageBuffer8BitAccess
    case 4449:
      return b(f.uniform_storage8);  // UniformAndStorageBuffer8BitAccess
    case 5345:
      return b(f.memory_model);  // VulkanMemoryModel
    case 61:
      return subgroup(VK_SUBGROUP_FEATURE_BASIC_BIT);
    case 62:
      return subgroup(VK_SUBGROUP_FEATURE_VOTE_BIT);
    case 63:
      return subgroup(VK_SUBGROUP_FEATURE_ARITHMETIC_BIT);
    case 64:
      return subgroup(VK_SUBGROUP_FEATURE_BALLOT_BIT);
    case 65:
      return subgroup(VK_SUBGROUP_FEATURE_SHUFFLE_BIT);
    case 66:
      return subgroup(VK_SUBGROUP_FEATURE_SHUFFLE_RELATIVE_BIT);
    case 67:
      return subgroup(VK_SUBGROUP_FEATURE_CLUSTERED_BIT);
    case 68:
      return subgroup(VK_SUBGROUP_FEATURE_QUAD_BIT);
    default:
      return verdict::unknown;
  }
}

}  // namespace

result<void> check_spirv(std::span<const std::uint32_t> words, const device_caps& caps) {
  if (words.size() < 5 || words[0] != spirv_magic)
    return fail(error_code::unsupported, "the kernel has no SPIR-V module");
  const std::uint32_t minor = (words[1] >> 8) & 0xff;
  if (caps.api_version < vulkan_for_spirv(minor))
    return fail(error_code::unsupported,
                "SPIR-V 1." + std::to_string(minor) + " needs a newer Vulkan than " + caps.info.name + " offers");
  for (std::size_t i = 5; i < words.size();) {
    const std::uint32_t count = words[i] >> 16, opcode = words[i] & 0xffff;
    if (count == 0 || i + count > words.size()) return fail(error_code::unsupported, "malformed SPIR-V module");
    if (opcode != op_capability) break;
    if (count < 2) return fail(error_code::unsupported, "malformed SPIR-V OpCapability");
    const std::uint32_t cap = words[i + 1];
    switch (offers(cap, caps)) {
      case verdict::yes:
        break;
      case verdict::no:
        return fail(error_code::unsupported, "the kernel needs SPIR-V capability " + std::to_string(cap) + ", which " +
                                                 caps.info.name + " does not offer");
      case verdict::unknown:
        return fail(error_code::unsupported,
                    "the kernel needs SPIR-V capability " + std::to_string(cap) + ", unknown to this backend");
    }
    i += count;
  }
  return {};
}

}  // namespace ec::backends::vulkan
