// Pipeline creation follows the catalogue's shader ABI: entry "main"; specialization constants 0, 1 and 2 are the
// local size (a shader that declares no constant 2 ignores it); set 0 holds inputs then outputs as storage
// buffers; one push-constant block of the scalars at std430 offsets (push_constants.hpp).
#include "pipelines.hpp"

#include <algorithm>
#include <vector>

#include "vk_check.hpp"

namespace ec::backends::vulkan {

pipeline_set::pipeline_set(const VolkDeviceTable& vk, VkDevice device, std::uint32_t api_version)
    : vk_(vk), device_(device), api_version_(api_version) {}

pipeline_set::~pipeline_set() {
  for (auto& [k, p] : pipelines_) destroy(p);
  for (auto& [k, p] : custom_) destroy(p);
  if (cache_ != VK_NULL_HANDLE) vk_.vkDestroyPipelineCache(device_, cache_, nullptr);
}

void pipeline_set::destroy(compute_pipeline& p) noexcept {
  if (p.pipeline != VK_NULL_HANDLE) vk_.vkDestroyPipeline(device_, p.pipeline, nullptr);
  if (p.layout != VK_NULL_HANDLE) vk_.vkDestroyPipelineLayout(device_, p.layout, nullptr);
  if (p.set_layout != VK_NULL_HANDLE) vk_.vkDestroyDescriptorSetLayout(device_, p.set_layout, nullptr);
  p = {};
}

result<void> pipeline_set::open_cache(std::span<const std::uint8_t> blob) {
  VkPipelineCacheCreateInfo ci{};
  ci.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO;
  ci.initialDataSize = blob.size();
  ci.pInitialData = blob.empty() ? nullptr : blob.data();
  if (vk_.vkCreatePipelineCache(device_, &ci, nullptr, &cache_) == VK_SUCCESS) return {};
  ci.initialDataSize = 0;
  ci.pInitialData = nullptr;
  cache_ = VK_NULL_HANDLE;
  EC_VK_TRY(vk_.vkCreatePipelineCache(device_, &ci, nullptr, &cache_));
  return {};
}

result<pipeline_set::lookup> pipeline_set::get(const kernels::kernel_spec& spec, std::uint32_t bindings,
                                               std::uint32_t push_bytes) {
  // Keyed by the kernel's hash (SPIR-V included), not its name: a changed kernel never reuses a stale pipeline.
  const key k{kernels::kernel_hash(spec), spec.local.x, spec.local.y, spec.local.z, bindings, push_bytes};
  if (const auto it = pipelines_.find(k); it != pipelines_.end()) return lookup{&it->second, false, false};
  bool hit = false;
  auto p = create(spec, bindings, push_bytes, "main", cache_, hit);
  if (!p) return p.err();
  dirty_ = true;
  const auto it = pipelines_.emplace(k, *p).first;
  return lookup{&it->second, true, hit};
}

result<pipeline_set::lookup> pipeline_set::get_custom(const kernels::kernel_spec& spec, std::uint32_t bindings,
                                                      std::uint32_t push_bytes, const std::string& entry,
                                                      std::uint32_t quota, bool may_evict) {
  const key k{kernels::kernel_hash(spec), spec.local.x, spec.local.y, spec.local.z, bindings, push_bytes};
  if (const auto it = custom_.find(k); it != custom_.end()) {
    custom_lru_.remove(k);
    custom_lru_.push_front(k);
    return lookup{&it->second, false, false};
  }
  bool hit = false;
  auto p = create(spec, bindings, push_bytes, entry.c_str(), VK_NULL_HANDLE, hit);
  if (!p) return p.err();
  // Evict before inserting, never the new entry: the caller is about to use it.
  while (may_evict && !custom_lru_.empty() && custom_lru_.size() >= std::max<std::uint32_t>(quota, 1)) {
    const auto victim = custom_.find(custom_lru_.back());
    if (victim != custom_.end()) {
      destroy(victim->second);
      custom_.erase(victim);
    }
    custom_lru_.pop_back();
  }
  custom_lru_.push_front(k);
  const auto it = custom_.emplace(k, *p).first;
  return lookup{&it->second, true, false};
}

result<compute_pipeline> pipeline_set::create(const kernels::kernel_spec& spec, std::uint32_t bindings,
                                              std::uint32_t push_bytes, const char* entry, VkPipelineCache cache,
                                              bool& cache_hit) {
  compute_pipeline p;
  p.bindings = bindings;
  p.push_bytes = push_bytes;
  // On any failure below, `guard` destroys what was created so far.
  struct guard_t {
    pipeline_set* self;
    compute_pipeline* p;
    ~guard_t() {
      if (p) self->destroy(*p);
    }
  } guard{this, &p};

  std::vector<VkDescriptorSetLayoutBinding> slots(bindings);
  for (std::uint32_t i = 0; i < bindings; ++i)
    slots[i] = {i, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
  VkDescriptorSetLayoutCreateInfo dl{};
  dl.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO;
  dl.bindingCount = bindings;
  dl.pBindings = slots.data();
  EC_VK_TRY(vk_.vkCreateDescriptorSetLayout(device_, &dl, nullptr, &p.set_layout));

  const VkPushConstantRange range{VK_SHADER_STAGE_COMPUTE_BIT, 0, push_bytes};
  VkPipelineLayoutCreateInfo pl{};
  pl.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO;
  pl.setLayoutCount = 1;
  pl.pSetLayouts = &p.set_layout;
  pl.pushConstantRangeCount = push_bytes > 0 ? 1 : 0;  // a zero-size range is invalid
  pl.pPushConstantRanges = &range;
  EC_VK_TRY(vk_.vkCreatePipelineLayout(device_, &pl, nullptr, &p.layout));

  VkShaderModuleCreateInfo sm{};
  sm.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO;
  sm.codeSize = spec.spirv.size_bytes();
  sm.pCode = spec.spirv.data();
  VkShaderModule module = VK_NULL_HANDLE;
  EC_VK_TRY(vk_.vkCreateShaderModule(device_, &sm, nullptr, &module));

  const VkSpecializationMapEntry entries[] = {{0, 0, 4}, {1, 4, 4}, {2, 8, 4}};
  const std::uint32_t local[] = {spec.local.x, spec.local.y, spec.local.z};
  const VkSpecializationInfo specialization{3, entries, sizeof local, local};
  VkComputePipelineCreateInfo ci{};
  ci.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO;
  ci.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
  ci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  ci.stage.module = module;
  ci.stage.pName = entry;
  ci.stage.pSpecializationInfo = &specialization;
  ci.layout = p.layout;
  // Creation feedback (core in 1.3) tells whether the VkPipelineCache supplied the pipeline.
  VkPipelineCreationFeedback whole{}, stage{};
  VkPipelineCreationFeedbackCreateInfo feedback{};
  feedback.sType = VK_STRUCTURE_TYPE_PIPELINE_CREATION_FEEDBACK_CREATE_INFO;
  feedback.pPipelineCreationFeedback = &whole;
  feedback.pipelineStageCreationFeedbackCount = 1;
  feedback.pPipelineStageCreationFeedbacks = &stage;
  if (api_version_ >= VK_API_VERSION_1_3) ci.pNext = &feedback;
  const VkResult r = vk_.vkCreateComputePipelines(device_, cache, 1, &ci, nullptr, &p.pipeline);
  vk_.vkDestroyShaderModule(device_, module, nullptr);  // the pipeline keeps what it needs
  if (r != VK_SUCCESS) return vk_error("vkCreateComputePipelines", r);

  cache_hit = (whole.flags & VK_PIPELINE_CREATION_FEEDBACK_VALID_BIT) &&
              (whole.flags & VK_PIPELINE_CREATION_FEEDBACK_APPLICATION_PIPELINE_CACHE_HIT_BIT);
  guard.p = nullptr;
  return p;
}

result<std::vector<std::uint8_t>> pipeline_set::cache_data() const {
  std::size_t size = 0;
  EC_VK_TRY(vk_.vkGetPipelineCacheData(device_, cache_, &size, nullptr));
  std::vector<std::uint8_t> blob(size);
  EC_VK_TRY(vk_.vkGetPipelineCacheData(device_, cache_, &size, blob.data()));
  blob.resize(size);
  return blob;
}

}  // namespace ec::backends::vulkan
