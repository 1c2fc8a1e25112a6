// Device creation and run(): check the call against the limits, then (under the device mutex) get the
// pipeline, allocate, upload, dispatch, download, and fail the run if the validation layer reported anything.
#include "vulkan_device.hpp"

#include <algorithm>
#include <cstring>

#include "buffers.hpp"
#include "push_constants.hpp"
#include "run_resources.hpp"
#include "spirv_requirements.hpp"
#include "spirv_validation.hpp"
#include "vk_check.hpp"

namespace ec::backends::vulkan {
namespace {

std::uint64_t elapsed_us(clock::time_point since) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - since).count());
}

void barrier(const VolkDeviceTable& vk, VkCommandBuffer cmd, VkPipelineStageFlags src_stage, VkAccessFlags src,
             VkPipelineStageFlags dst_stage, VkAccessFlags dst) {
  VkMemoryBarrier b{};
  b.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER;
  b.srcAccessMask = src;
  b.dstAccessMask = dst;
  vk.vkCmdPipelineBarrier(cmd, src_stage, dst_stage, 0, 1, &b, 0, nullptr, 0, nullptr);
}

// Device memory kept between runs (buffer_pool): enough for a 16M-element saxpy's three buffers.
constexpr std::uint64_t pool_budget_bytes = std::uint64_t{256} << 20;

std::string too_big(std::string_view what, std::string_view name, std::uint64_t bytes, const device_caps& caps) {
  return std::string(what) + " '" + std::string(name) + "' is " + std::to_string(bytes) + " bytes; " + caps.info.name +
         " binds at most " + std::to_string(caps.max_buffer_bytes) +
         " bytes per storage buffer (min of maxStorageBufferRange and maxMemoryAllocationSize)";
}

}  // namespace

vulkan_device::vulkan_device(instance& inst, device_caps caps, const backend_options& options)
    : instance_(inst),
      caps_(std::move(caps)),
      cache_file_(options.cache_dir.empty() ? std::filesystem::path{}
                                            : options.cache_dir / pipeline_cache_file_name(caps_.info.uuid),
                  options.cache_max_bytes,
                  cache_identity{caps_.info.vendor_id, caps_.info.device_id, caps_.pipeline_cache_uuid}),
      custom_quota_(options.custom_cache_entries) {}

result<std::unique_ptr<vulkan_device>> vulkan_device::create(instance& inst, device_caps caps,
                                                             const backend_options& options, bool force_staging) {
  std::unique_ptr<vulkan_device> d(new vulkan_device(inst, std::move(caps), options));
  const auto& c = d->caps_;
  const float priority = 1.0f;
  VkDeviceQueueCreateInfo qi{};
  qi.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO;
  qi.queueFamilyIndex = c.queue_family;
  qi.queueCount = 1;
  qi.pQueuePriorities = &priority;
  const feature_chain features(c);
  VkDeviceCreateInfo ci{};
  ci.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO;
  ci.pNext = features.head();
  ci.queueCreateInfoCount = 1;
  ci.pQueueCreateInfos = &qi;
  if (const VkResult r = vkCreateDevice(c.physical, &ci, nullptr, &d->device_); r != VK_SUCCESS) {
    d->device_ = VK_NULL_HANDLE;
    return vk_error("vkCreateDevice", r);
  }
  volkLoadDeviceTable(&d->vk_, d->device_);
  d->vk_.vkGetDeviceQueue(d->device_, c.queue_family, 0, &d->queue_);
  d->direct_ = maps_device_memory(c.memory) && !force_staging;
  d->pool_ = std::make_unique<buffer_pool>(d->vk_, d->device_, d->caps_.memory, c.max_buffer_bytes,
                                           std::min(pool_budget_bytes, c.info.memory_bytes / 8));

  const auto blob = d->cache_file_.load();
  d->pipelines_ = std::make_unique<pipeline_set>(d->vk_, d->device_, c.api_version);
  if (auto r = d->pipelines_->open_cache(blob); !r) return r.err();
  d->stats_.file = d->cache_file_.path();
  d->stats_.loaded_bytes = blob.size();
  d->stats_.note = d->cache_file_.note();
  if (auto r = inst.take_messages_as_error("device creation"); !r) return r.err();
  return d;
}

vulkan_device::~vulkan_device() {
  const std::lock_guard lock(mutex_);
  if (device_ == VK_NULL_HANDLE) return;
  vk_.vkDeviceWaitIdle(device_);
  retired_.clear();
  if (pool_) pool_->clear();
  if (pipelines_ && pipelines_->dirty()) save_cache();
  pipelines_.reset();
  vk_.vkDestroyDevice(device_, nullptr);
}

pipeline_cache_stats vulkan_device::cache_stats() const {
  const std::lock_guard lock(mutex_);
  return stats_;
}

result<void> vulkan_device::check_kernel(const kernels::kernel_spec& spec) const {
  const auto& l = caps_.limits;
  const auto& local = spec.local;
  // x * y is below 2^64; it is multiplied by z only once it is at most the invocation limit (below 2^32).
  const std::uint64_t xy = std::uint64_t{local.x} * local.y;
  const bool too_many = xy > l.maxComputeWorkGroupInvocations || xy * local.z > l.maxComputeWorkGroupInvocations;
  if (local.x == 0 || local.y == 0 || local.z == 0 || local.x > l.maxComputeWorkGroupSize[0] ||
      local.y > l.maxComputeWorkGroupSize[1] || local.z > l.maxComputeWorkGroupSize[2] || too_many)
    return fail(error_code::unsupported,
                "kernel '" + std::string(spec.name) + "' local size " + std::to_string(local.x) + "x" +
                    std::to_string(local.y) + "x" + std::to_string(local.z) + " exceeds " + caps_.info.name +
                    "'s limits (" + std::to_string(l.maxComputeWorkGroupSize[0]) + "x" +
                    std::to_string(l.maxComputeWorkGroupSize[1]) + "x" + std::to_string(l.maxComputeWorkGroupSize[2]) +
                    ", " + std::to_string(l.maxComputeWorkGroupInvocations) + " invocations)");
  const std::size_t bindings = spec.inputs.size() + spec.outputs.size();
  if (bindings > l.maxPerStageDescriptorStorageBuffers)
    return fail(error_code::unsupported, "kernel '" + std::string(spec.name) + "' binds " + std::to_string(bindings) +
                                             " storage buffers; the device allows " +
                                             std::to_string(l.maxPerStageDescriptorStorageBuffers));
  if (spec.scalar_names.size() * 4 > l.maxPushConstantsSize)
    return fail(error_code::unsupported, "kernel '" + std::string(spec.name) + "' has more scalars than fit in " +
                                             std::to_string(l.maxPushConstantsSize) + " bytes of push constants");
  return check_spirv(spec.spirv, caps_);
}

bool vulkan_device::supports(const kernels::kernel_spec& kernel) const { return check_kernel(kernel).ok(); }

// Everything here runs before any allocation, so an oversize task costs nothing on the device.
result<void> vulkan_device::check_call(const kernels::bound_call& call) const {
  if (!call.spec) return fail(error_code::invalid_argument, "unbound call");
  const auto& spec = *call.spec;
  if (call.inputs.size() != spec.inputs.size() || call.outputs.size() != spec.outputs.size() ||
      call.scalars.size() != spec.scalar_names.size())
    return fail(error_code::invalid_argument, "call does not match kernel '" + std::string(spec.name) + "'s ABI");
  if (auto r = check_kernel(spec); !r) return r;
  if (const auto push = push_constant_bytes(call.scalars); push > caps_.limits.maxPushConstantsSize)
    return fail(error_code::unsupported, "kernel '" + std::string(spec.name) + "' scalars take " +
                                             std::to_string(push) + " bytes of push constants; " + caps_.info.name +
                                             " allows " + std::to_string(caps_.limits.maxPushConstantsSize) +
                                             " (maxPushConstantsSize)");
  std::uint64_t total = 0;
  for (const auto& in : call.inputs) {
    const auto declared = protocol::tensor_byte_size(in.type, in.shape);
    if (!declared || *declared != in.data.size())
      return fail(error_code::invalid_argument,
                  "input '" + std::string(in.name) + "': data size does not match its shape");
    if (padded_size(in.data.size()) > caps_.max_buffer_bytes)
      return fail(error_code::unsupported, too_big("input", in.name, in.data.size(), caps_));
    total += padded_size(in.data.size());
  }
  for (const auto& out : call.outputs) {
    if (padded_size(out.bytes) > caps_.max_buffer_bytes)
      return fail(error_code::unsupported, too_big("output", out.name, out.bytes, caps_));
    total += padded_size(out.bytes);
  }
  if (total > caps_.info.memory_bytes)
    return fail(error_code::unsupported, "the call needs " + std::to_string(total) + " bytes of device memory; " +
                                             caps_.info.name + " has " + std::to_string(caps_.info.memory_bytes));
  return {};
}

result<run_output> vulkan_device::run(const kernels::bound_call& call, clock::time_point deadline) {
  if (auto r = check_call(call); !r) return r.err();
  if (clock::now() >= deadline) return fail(error_code::timeout, "deadline passed before the run started");
  const std::lock_guard lock(mutex_);
  reap_retired();
  auto out = run_locked(call, deadline);
  // Messages belong to the instance; a message from this run (or one left by an earlier timed-out run) fails it.
  if (auto v = instance_.take_messages_as_error("run of '" + std::string(call.spec->name) + "'"); !v) return v.err();
  if (out && pipelines_->dirty()) save_cache();
  return out;
}

// Custom code is checked in full before anything reaches the driver: the validator first (so malformed code is
// always refused with its message, never misread by the capability scan), then sizes against the limits (no
// clamping of the dispatch: custom kernels need not loop grid-stride), then the entry point.
result<void> vulkan_device::check_custom(const custom_binding& binding) const {
  const auto& call = binding.call();
  if (binding.spec().spirv.empty()) return fail(error_code::unsupported, "the custom kernel carries no SPIR-V");
  if (auto r = validate_spirv(binding.spec().spirv, caps_.api_version); !r) return r;
  if (auto r = check_call(call); !r) return r;
  for (const auto& s : call.scalars)
    if (s.kind == kernels::scalar_kind::f64 && !caps_.features.float64)
      return fail(error_code::unsupported,
                  "the custom kernel takes an f64 param; " + caps_.info.name + " has no 64-bit floats (shaderFloat64)");
  const auto& max = caps_.limits.maxComputeWorkGroupCount;
  const std::uint64_t groups[] = {call.groups[0], call.groups[1], call.groups_z};
  for (std::size_t d = 0; d < 3; ++d)
    if (groups[d] > max[d])
      return fail(error_code::unsupported,
                  "custom dispatch of " + std::to_string(groups[d]) + " workgroups in dimension " + std::to_string(d) +
                      " exceeds " + caps_.info.name + "'s " + std::to_string(max[d]) + " (maxComputeWorkGroupCount)");
  const auto& local = binding.spec().local;
  return check_entry_point(binding.spec().spirv, binding.spec().name, local.x, local.y, local.z);
}

result<run_output> vulkan_device::run_custom(const custom_call& call, clock::time_point deadline) {
  const custom_binding binding(call);
  if (auto r = check_custom(binding); !r) return r.err();
  if (clock::now() >= deadline) return fail(error_code::timeout, "deadline passed before the custom kernel started");
  const std::lock_guard lock(mutex_);
  reap_retired();
  const std::string entry(binding.spec().name);
  auto out = run_locked(binding.call(), deadline, &entry);
  if (auto v = instance_.take_messages_as_error("run of custom kernel '" + entry + "'"); !v) return v.err();
  return out;
}

std::size_t vulkan_device::custom_pipelines() const {
  const std::lock_guard lock(mutex_);
  return pipelines_->custom_count();
}

result<run_output> vulkan_device::run_locked(const kernels::bound_call& call, clock::time_point deadline,
                                             const std::string* custom_entry) {
  run_output out;
  const auto bindings = static_cast<std::uint32_t>(call.inputs.size() + call.outputs.size());
  const auto push_bytes = push_constant_bytes(call.scalars);

  auto start = clock::now();
  // A timed-out run may still execute a custom pipeline: none is destroyed until every such run has finished.
  auto got = custom_entry ? pipelines_->get_custom(*call.spec, bindings, push_bytes, *custom_entry, custom_quota_,
                                                   retired_.empty())
                          : pipelines_->get(*call.spec, bindings, push_bytes);
  if (!got) return got.err();
  // Compile time counts against the deadline (a cold custom pipeline may take most of it).
  if (clock::now() >= deadline) return fail(error_code::timeout, "deadline passed while compiling the pipeline");
  if (got->created) {
    out.timings.compile_us = elapsed_us(start);
    ++stats_.pipelines_created;
    if (got->cache_hit) ++stats_.cache_hits;
  }
  const compute_pipeline& pipeline = *got->pipeline;

  // Upload: allocate every buffer, copy the inputs in (through staging when device memory is not mapped).
  start = clock::now();
  auto res = std::make_unique<run_resources>(vk_, device_);
  if (auto r = res->init(caps_.queue_family, bindings); !r) return r.err();
  const auto storage_role = direct_ ? buffer_role::mapped_storage : buffer_role::storage;
  for (std::uint32_t i = 0; i < bindings; ++i) {
    const bool is_input = i < call.inputs.size();
    const std::uint64_t size =
        padded_size(is_input ? call.inputs[i].data.size() : call.outputs[i - call.inputs.size()].bytes);
    res->sizes.push_back(size);
    auto b = pool_->take(size, storage_role);
    if (!b) return b.err();
    res->storage.push_back(std::move(*b));
    if (!direct_) {
      auto st = pool_->take(size, is_input ? buffer_role::upload : buffer_role::download);
      if (!st) return st.err();
      res->staging.push_back(std::move(*st));
    }
  }
  for (std::size_t i = 0; i < call.inputs.size(); ++i) {
    const auto& data = call.inputs[i].data;
    std::byte* dst = direct_ ? res->storage[i].mapped() : res->staging[i].mapped();
    if (!data.empty()) std::memcpy(dst, data.data(), data.size());
    std::memset(dst + data.size(), 0, res->sizes[i] - data.size());  // deterministic padding
  }
  if (!direct_ && !call.inputs.empty()) {
    auto cmd = res->begin_commands();
    if (!cmd) return cmd.err();
    for (std::size_t i = 0; i < call.inputs.size(); ++i) {
      const VkBufferCopy region{0, 0, res->sizes[i]};
      vk_.vkCmdCopyBuffer(*cmd, res->staging[i].handle(), res->storage[i].handle(), 1, &region);
    }
    if (auto r = res->submit_and_wait(queue_, *cmd, deadline); !r) {
      retired_.push_back(std::move(res));
      return r.err();
    }
  }
  out.timings.upload_us = elapsed_us(start);

  // Execute.
  start = clock::now();
  auto cmd = res->begin_commands();
  if (!cmd) return cmd.err();
  if (auto r = record_dispatch(*res, pipeline, call, *cmd); !r) return r.err();
  if (auto r = res->submit_and_wait(queue_, *cmd, deadline); !r) {
    if (r.code() == error_code::timeout) retired_.push_back(std::move(res));
    return r.err();
  }
  out.timings.exec_us = elapsed_us(start);

  // Download.
  start = clock::now();
  if (!direct_) {
    auto dl = res->begin_commands();
    if (!dl) return dl.err();
    for (std::size_t i = call.inputs.size(); i < bindings; ++i) {
      const VkBufferCopy region{0, 0, res->sizes[i]};
      vk_.vkCmdCopyBuffer(*dl, res->storage[i].handle(), res->staging[i].handle(), 1, &region);
    }
    barrier(vk_, *dl, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_HOST_BIT,
            VK_ACCESS_HOST_READ_BIT);
    if (auto r = res->submit_and_wait(queue_, *dl, deadline); !r) {
      if (r.code() == error_code::timeout) retired_.push_back(std::move(res));
      return r.err();
    }
  }
  try {
    out.outputs.reserve(call.outputs.size());
    for (std::size_t o = 0; o < call.outputs.size(); ++o) {
      const auto& spec = call.outputs[o];
      const std::size_t i = call.inputs.size() + o;
      const std::byte* src = direct_ ? res->storage[i].mapped() : res->staging[i].mapped();
      protocol::bytes data(spec.bytes);
      if (spec.bytes > 0) std::memcpy(data.data(), src, spec.bytes);
      out.outputs.push_back({spec.name, spec.type, spec.shape, std::move(data)});
    }
  } catch (const std::bad_alloc&) {
    return fail(error_code::out_of_memory, "cannot allocate the outputs on the host");
  }
  out.timings.download_us = elapsed_us(start);
  recycle(*res, call.inputs.size());
  return out;
}

// Buffers of a finished run go back to the pool; a failed or timed-out run's buffers are freed instead.
void vulkan_device::recycle(run_resources& res, std::size_t inputs) {
  const auto storage_role = direct_ ? buffer_role::mapped_storage : buffer_role::storage;
  for (auto& b : res.storage) pool_->give(std::move(b), storage_role);
  for (std::size_t i = 0; i < res.staging.size(); ++i)
    pool_->give(std::move(res.staging[i]), i < inputs ? buffer_role::upload : buffer_role::download);
}

result<void> vulkan_device::record_dispatch(run_resources& res, const compute_pipeline& p,
                                            const kernels::bound_call& call, VkCommandBuffer cmd) {
  VkDescriptorSetAllocateInfo ai{};
  ai.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO;
  ai.descriptorPool = res.descriptor_pool();
  ai.descriptorSetCount = 1;
  ai.pSetLayouts = &p.set_layout;
  VkDescriptorSet set = VK_NULL_HANDLE;
  EC_VK_TRY(vk_.vkAllocateDescriptorSets(device_, &ai, &set));
  std::vector<VkDescriptorBufferInfo> infos(p.bindings);
  std::vector<VkWriteDescriptorSet> writes(p.bindings);
  for (std::uint32_t i = 0; i < p.bindings; ++i) {
    infos[i] = {res.storage[i].handle(), 0, res.sizes[i]};  // pooled buffers may be larger
    writes[i] = {};
    writes[i].sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET;
    writes[i].dstSet = set;
    writes[i].dstBinding = i;
    writes[i].descriptorCount = 1;
    writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    writes[i].pBufferInfo = &infos[i];
  }
  vk_.vkUpdateDescriptorSets(device_, p.bindings, writes.data(), 0, nullptr);

  // Outputs start zeroed, as the C++ reference sees them (accumulating kernels such as histograms rely on it).
  for (std::size_t i = call.inputs.size(); i < p.bindings; ++i)
    vk_.vkCmdFillBuffer(cmd, res.storage[i].handle(), 0, res.sizes[i], 0);
  // Upload copies (an earlier submission) and the fills must land before the shader reads or writes.
  barrier(vk_, cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
          VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
  vk_.vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, p.pipeline);
  vk_.vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, p.layout, 0, 1, &set, 0, nullptr);
  if (p.push_bytes > 0) {
    const auto block = pack_push_constants(call.scalars);
    vk_.vkCmdPushConstants(cmd, p.layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, p.push_bytes, block.data());
  }
  // Every catalogue kernel loops grid-stride, so fewer groups than asked is correct, only slower; a custom
  // dispatch was checked against these limits, so it is never clamped.
  const auto& max = caps_.limits.maxComputeWorkGroupCount;
  const auto gx = static_cast<std::uint32_t>(std::min<std::uint64_t>(call.groups[0], max[0]));
  const auto gy = static_cast<std::uint32_t>(std::min<std::uint64_t>(call.groups[1], max[1]));
  const auto gz = static_cast<std::uint32_t>(std::min<std::uint64_t>(call.groups_z, max[2]));
  vk_.vkCmdDispatch(cmd, gx, gy, gz);
  barrier(vk_, cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
          VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_HOST_BIT,
          VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_HOST_READ_BIT);
  return {};
}

void vulkan_device::reap_retired() {
  std::erase_if(retired_, [](const std::unique_ptr<run_resources>& r) { return r->idle(); });
}

void vulkan_device::save_cache() {
  auto blob = pipelines_->cache_data();
  if (!blob) {
    stats_.note = blob.err().what();
    return;
  }
  const auto written = cache_file_.save(*blob);
  if (!written) {
    stats_.note = written.err().what();  // a cache that cannot be written costs compile time, not the run
    return;
  }
  pipelines_->mark_saved();  // an oversize blob is not retried after every run either
  if (*written) stats_.saved_bytes = blob->size();
}

}  // namespace ec::backends::vulkan
