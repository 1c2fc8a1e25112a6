// SPIRV-Tools is linked into this module only (architecture.md, footprint budget). Its C++ API reports
// diagnostics through a callback: the first error is kept for the refusal, the rest are summarised by count.
#include "spirv_validation.hpp"

#include <volk.h>

#include <spirv-tools/libspirv.hpp>
#include <string>

namespace ec::backends::vulkan {
namespace {

spv_target_env target_env_of(std::uint32_t api_version) {
  const auto minor = VK_API_VERSION_MINOR(api_version);
  if (minor >= 3) return SPV_ENV_VULKAN_1_3;
  if (minor == 2) return SPV_ENV_VULKAN_1_2;
  if (minor == 1) return SPV_ENV_VULKAN_1_1;
  return SPV_ENV_VULKAN_1_0;
}

constexpr std::uint32_t op_entry_point = 15, op_execution_mode = 16, op_spec_constant_composite = 51, op_decorate = 71;
constexpr std::uint32_t model_gl_compute = 5, mode_local_size = 17, decoration_builtin = 11,
                        builtin_workgroup_size = 25;

// A literal string operand: UTF-8 bytes packed little-endian into words, NUL-terminated within `words`.
std::string_view literal_string(std::span<const std::uint32_t> words) {
  const auto* chars = reinterpret_cast<const char*>(words.data());
  const std::size_t max = words.size_bytes();
  std::size_t n = 0;
  while (n < max && chars[n] != '\0') ++n;
  return {chars, n};
}

}  // namespace

result<void> check_entry_point(std::span<const std::uint32_t> words, std::string_view entry, std::uint32_t local_x,
                               std::uint32_t local_y, std::uint32_t local_z) {
  constexpr std::size_t header_words = 5;
  if (words.size() < header_words) return fail(error_code::invalid_argument, "SPIR-V module too short");
  bool found = false, size_from_spec = false, has_literal = false;
  std::uint32_t entry_id = 0, builtin_id = 0, lx = 0, ly = 0, lz = 0;
  // Two passes: the entry point's and the WorkgroupSize builtin's ids must be known before what refers to them.
  // glslang always declares gl_WorkGroupSize; only a *specialization* constant makes the size come from
  // specialization constants 0, 1 and 2 (which the pipeline sets to the declared size) instead of LocalSize.
  for (int pass = 0; pass < 2; ++pass)
    for (std::size_t i = header_words; i < words.size();) {
      const std::uint32_t count = words[i] >> 16, op = words[i] & 0xffffu;
      if (count == 0 || i + count > words.size())
        return fail(error_code::invalid_argument, "SPIR-V instruction overruns");
      const auto ins = words.subspan(i, count);
      if (pass == 0 && op == op_entry_point && count >= 4 && ins[1] == model_gl_compute &&
          literal_string(ins.subspan(3)) == entry) {
        found = true;
        entry_id = ins[2];
      }
      if (pass == 0 && op == op_decorate && count >= 4 && ins[2] == decoration_builtin &&
          ins[3] == builtin_workgroup_size)
        builtin_id = ins[1];
      if (pass == 1 && op == op_spec_constant_composite && count >= 3 && builtin_id != 0 && ins[2] == builtin_id)
        size_from_spec = true;
      if (pass == 1 && found && op == op_execution_mode && count >= 6 && ins[1] == entry_id &&
          ins[2] == mode_local_size) {
        has_literal = true;
        lx = ins[3], ly = ins[4], lz = ins[5];
      }
      i += count;
    }
  if (!found)
    return fail(error_code::invalid_argument,
                "SPIR-V has no GLCompute entry point named '" + std::string(entry) + "' (the task's entry)");
  if (has_literal && !size_from_spec && (lx != local_x || ly != local_y || lz != local_z))
    return fail(error_code::invalid_argument, "SPIR-V declares local size " + std::to_string(lx) + "x" +
                                                  std::to_string(ly) + "x" + std::to_string(lz) + ", the task " +
                                                  std::to_string(local_x) + "x" + std::to_string(local_y) + "x" +
                                                  std::to_string(local_z));
  return {};
}

result<void> validate_spirv(std::span<const std::uint32_t> words, std::uint32_t api_version) {
  if (words.empty()) return fail(error_code::invalid_argument, "SPIR-V validation failed: the module is empty");
  std::string first;
  std::size_t count = 0;
  try {
    spvtools::SpirvTools tools(target_env_of(api_version));
    tools.SetMessageConsumer([&](spv_message_level_t, const char*, const spv_position_t& pos, const char* message) {
      if (count++ == 0) first = "word " + std::to_string(pos.index) + ": " + (message ? message : "");
    });
    if (tools.Validate(words.data(), words.size())) return {};
  } catch (const std::bad_alloc&) {
    return fail(error_code::out_of_memory, "SPIR-V validation ran out of memory");
  }
  if (first.empty()) first = "invalid module";
  if (first.size() > 512) first.resize(512);  // bounded: the message goes into a Result and the logs
  return fail(error_code::invalid_argument,
              "SPIR-V validation failed: " + first + (count > 1 ? " (+" + std::to_string(count - 1) + " more)" : ""));
}

}  // namespace ec::backends::vulkan
