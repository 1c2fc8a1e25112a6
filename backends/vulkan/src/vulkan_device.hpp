// A Vulkan device that runs catalogue kernels: one VkDevice with one compute queue, its pipelines and their
// on-disk cache. Thread safety: every run() (and destruction) holds the device's mutex for the whole run, so
// calls from several threads are serialised per device (one queue, one pipeline set, one cache file).
#pragma once

#include <volk.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "buffers.hpp"
#include "ec/backends/backend.hpp"
#include "physical_device.hpp"
#include "pipeline_cache.hpp"
#include "pipelines.hpp"
#include "vk_instance.hpp"

namespace ec::backends::vulkan {

class run_resources;

/// What the pipeline cache did during this device's lifetime (tests and diagnostics).
struct pipeline_cache_stats {
  std::filesystem::path file;      // empty: no disk cache
  std::uint64_t loaded_bytes = 0;  // Vulkan blob handed to vkCreatePipelineCache at start
  std::uint64_t saved_bytes = 0;   // last blob written
  std::uint32_t pipelines_created = 0;
  std::uint32_t cache_hits = 0;  // pipelines the driver reports as found in the VkPipelineCache
  std::string note;              // why a cache file was rejected or could not be written
};

class vulkan_device final : public device {
 public:
  /// Creates the VkDevice and loads the disk cache; fails with the validation layer's message if it spoke.
  /// `force_staging`: go through staging buffers even where device memory could be mapped (tests).
  static result<std::unique_ptr<vulkan_device>> create(instance& inst, device_caps caps, const backend_options& options,
                                                       bool force_staging = false);
  /// Waits for queued work (a runaway shader makes this block: the worker process is then killed).
  ~vulkan_device() override;
  vulkan_device(const vulkan_device&) = delete;
  vulkan_device& operator=(const vulkan_device&) = delete;

  [[nodiscard]] const protocol::device_info& info() const override { return caps_.info; }
  [[nodiscard]] std::string id() const override { return "vulkan:" + std::to_string(caps_.index); }
  [[nodiscard]] bool supports(const kernels::kernel_spec& kernel) const override;
  /// Vulkan cannot cancel a dispatch: past the deadline run() returns `timeout` and the work's resources are
  /// freed by a later run once it has finished; the isolation layer kills the worker for a runaway kernel.
  result<run_output> run(const kernels::bound_call& call, clock::time_point deadline) override;
  /// Custom SPIR-V: sizes checked against the limits, the module validated with SPIRV-Tools and its entry point
  /// and local size checked, all before pipeline creation; pipelines kept in an LRU (custom_cache_entries).
  result<run_output> run_custom(const custom_call& call, clock::time_point deadline) override;
  /// Compiled custom pipelines held now (tests of the LRU bound).
  [[nodiscard]] std::size_t custom_pipelines() const;

  [[nodiscard]] const device_caps& caps() const { return caps_; }
  /// True when tensors live in host-mapped device memory (no staging copies).
  [[nodiscard]] bool maps_memory() const { return direct_; }
  [[nodiscard]] pipeline_cache_stats cache_stats() const;

 private:
  vulkan_device(instance& inst, device_caps caps, const backend_options& options);
  result<void> check_kernel(const kernels::kernel_spec& spec) const;
  result<void> check_call(const kernels::bound_call& call) const;
  result<void> check_custom(const custom_binding& binding) const;
  // `custom_entry` non-null: custom code, compiled outside the pipeline cache into the custom LRU.
  result<run_output> run_locked(const kernels::bound_call& call, clock::time_point deadline,
                                const std::string* custom_entry = nullptr);
  result<void> record_dispatch(run_resources& res, const compute_pipeline& p, const kernels::bound_call& call,
                               VkCommandBuffer cmd);
  void reap_retired();
  void recycle(run_resources& res, std::size_t inputs);
  void save_cache();

  instance& instance_;
  device_caps caps_;
  VkDevice device_ = VK_NULL_HANDLE;
  VolkDeviceTable vk_{};  // per device: volk's global device pointers would be shared by every VkDevice
  VkQueue queue_ = VK_NULL_HANDLE;
  bool direct_ = false;
  std::unique_ptr<pipeline_set> pipelines_;
  std::unique_ptr<buffer_pool> pool_;
  pipeline_cache_file cache_file_;
  pipeline_cache_stats stats_;
  std::uint32_t custom_quota_ = 8;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<run_resources>> retired_;  // timed-out runs whose work may still be running
};

}  // namespace ec::backends::vulkan
