// Compute pipelines built from catalogue SPIR-V, kept for the device's lifetime per (kernel, local size), and
// the VkPipelineCache they are compiled through (seeded from, and saved to, pipeline_cache_file).
#pragma once

#include <volk.h>

#include <array>
#include <cstdint>
#include <list>
#include <map>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "ec/kernels/kernel_spec.hpp"

namespace ec::backends::vulkan {

/// One kernel's pipeline and the layouts a run binds against it.
struct compute_pipeline {
  VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;  // set 0: `bindings` storage buffers
  VkPipelineLayout layout = VK_NULL_HANDLE;           // plus `push_bytes` of push constants (the scalars)
  VkPipeline pipeline = VK_NULL_HANDLE;
  std::uint32_t bindings = 0, push_bytes = 0;
};

/// Not thread-safe: the owning device serialises calls (vulkan_device::mutex_).
class pipeline_set {
 public:
  pipeline_set(const VolkDeviceTable& vk, VkDevice device, std::uint32_t api_version);
  ~pipeline_set();
  pipeline_set(const pipeline_set&) = delete;
  pipeline_set& operator=(const pipeline_set&) = delete;

  /// Creates the VkPipelineCache from a saved blob; a blob the driver refuses is dropped for an empty cache.
  result<void> open_cache(std::span<const std::uint8_t> blob);

  struct lookup {
    const compute_pipeline* pipeline = nullptr;
    bool created = false;    // compiled by this call (the run reports compile_us)
    bool cache_hit = false;  // created, and the driver reports a VkPipelineCache hit (creation feedback)
  };
  /// The pipeline of `spec` with `bindings` buffers and `push_bytes` of scalars, compiled on first use.
  result<lookup> get(const kernels::kernel_spec& spec, std::uint32_t bindings, std::uint32_t push_bytes);
  /// The same for custom code with entry point `entry`: compiled outside the VkPipelineCache (custom code never
  /// reaches the disk cache) and kept in an LRU of at most `quota` pipelines. `may_evict` is false while an
  /// earlier run may still execute one of them (a timed-out dispatch): then nothing is destroyed yet.
  result<lookup> get_custom(const kernels::kernel_spec& spec, std::uint32_t bindings, std::uint32_t push_bytes,
                            const std::string& entry, std::uint32_t quota, bool may_evict);
  /// Custom pipelines held now (tests).
  [[nodiscard]] std::size_t custom_count() const { return custom_lru_.size(); }

  /// vkGetPipelineCacheData.
  result<std::vector<std::uint8_t>> cache_data() const;
  /// True when pipelines were created since the last mark_saved() (the cache blob may have grown).
  [[nodiscard]] bool dirty() const { return dirty_; }
  void mark_saved() { dirty_ = false; }

 private:
  // (kernel hash, local x, y, z, bindings, push-constant bytes)
  using key = std::tuple<std::array<std::uint8_t, 32>, std::uint32_t, std::uint32_t, std::uint32_t, std::uint32_t,
                         std::uint32_t>;
  void destroy(compute_pipeline& p) noexcept;
  result<compute_pipeline> create(const kernels::kernel_spec& spec, std::uint32_t bindings, std::uint32_t push_bytes,
                                  const char* entry, VkPipelineCache cache, bool& cache_hit);
  const VolkDeviceTable& vk_;
  VkDevice device_;
  std::uint32_t api_version_;
  VkPipelineCache cache_ = VK_NULL_HANDLE;
  std::map<key, compute_pipeline> pipelines_;
  std::map<key, compute_pipeline> custom_;
  std::list<key> custom_lru_;  // most recently used first
  bool dirty_ = false;
};

}  // namespace ec::backends::vulkan
