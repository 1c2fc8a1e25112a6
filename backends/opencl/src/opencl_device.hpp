// One OpenCL device: its own context and one in-order command queue, programs built per kernel source and
// kept for the device's lifetime, and run() binding the catalogue's kernel ABI to clEnqueueNDRangeKernel.
//
// Thread safety: run() may be called from any thread. One mutex per device serializes runs, because the
// queue, the cached cl_kernel objects (clSetKernelArg is not thread-safe on one kernel) and the program map
// are shared; devices never share state except the (stateless, file-atomic) program cache.
#pragma once

#include <algorithm>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "cl_handles.hpp"
#include "device_query.hpp"
#include "ec/backends/device.hpp"
#include "program_builder.hpp"

namespace ec::backends::opencl {

/// Counters of how programs were obtained (probe output and tests).
struct program_stats {
  std::uint64_t cache_hits = 0;
  std::uint64_t source_builds = 0;
  std::uint64_t rejected_binaries = 0;  // cache entries the driver refused, rebuilt from source
};

/// The most workgroups launched per dimension (Vulkan's guaranteed maxComputeWorkGroupCount, so both GPU
/// backends launch the same grid); every kernel loops grid-stride, so fewer groups is still correct.
inline constexpr std::uint64_t max_groups_per_dim = 65535;
/// Size of the buffer behind a zero-size tensor: a zero-size clCreateBuffer is CL_INVALID_BUFFER_SIZE.
inline constexpr std::uint64_t min_buffer_bytes = 16;

class opencl_device final : public device {
 public:
  /// Creates the context and queue; fails with device_error when the driver refuses them.
  static result<std::unique_ptr<opencl_device>> create(cl_platform_id platform, cl_device_id handle,
                                                       std::size_t platform_index, std::size_t device_index,
                                                       const program_cache* cache);

  [[nodiscard]] const protocol::device_info& info() const override { return facts_.info; }
  [[nodiscard]] std::string id() const override { return id_; }
  [[nodiscard]] bool supports(const kernels::kernel_spec& kernel) const override;
  result<run_output> run(const kernels::bound_call& call, clock::time_point deadline) override;
  /// Custom OpenCL C: sizes checked against the limits before the build, never cached on disk, kept built in an
  /// LRU of custom_quota programs; local memory checked after the build and before the enqueue.
  result<run_output> run_custom(const custom_call& call, clock::time_point deadline) override;
  /// How many built custom programs a device keeps (backend_options::custom_cache_entries).
  void set_custom_quota(std::uint32_t entries) { custom_quota_ = std::max<std::uint32_t>(entries, 1); }
  /// Built custom programs held now (tests of the LRU bound).
  [[nodiscard]] std::size_t custom_programs() const;

  /// Everything queried at creation, including the OpenCL C version kernels are compiled for.
  [[nodiscard]] const device_facts& facts() const { return facts_; }
  /// The options every program is built with ("-cl-std=CL1.2" when the device's OpenCL C allows it).
  [[nodiscard]] const std::string& build_options() const { return build_options_; }
  [[nodiscard]] cl_context context() const { return context_.get(); }
  [[nodiscard]] cl_device_id handle() const { return device_; }
  [[nodiscard]] program_stats stats() const;

 private:
  struct compiled_kernel {
    program_handle program;
    kernel_handle kernel;
    std::size_t max_group = 0;    // CL_KERNEL_WORK_GROUP_SIZE
    std::uint64_t local_mem = 0;  // CL_KERNEL_LOCAL_MEM_SIZE
    cl_uint num_args = 0;
  };

  opencl_device(cl_device_id handle, device_facts facts, std::string id, const program_cache* cache);
  result<void> check_limits(const kernels::bound_call& call) const;
  result<compiled_kernel*> kernel_for(const kernels::kernel_spec& spec, run_timings& timings,
                                      bool custom);  // mutex held
  result<run_output> run_bound(const kernels::bound_call& call, clock::time_point deadline, bool custom);
  void remember_custom(const std::string& key);  // mutex held

  cl_device_id device_;
  device_facts facts_;
  std::string id_;
  std::string build_options_;
  const program_cache* cache_;
  context_handle context_;
  queue_handle queue_;
  bool profiling_ = false;

  mutable std::mutex mutex_;                                         // guards everything below and every use of queue_
  std::map<std::string, std::unique_ptr<compiled_kernel>> kernels_;  // by program key (hex)
  program_stats stats_;
  std::list<std::string> custom_lru_;  // keys of custom programs in kernels_, most recently used first
  std::uint32_t custom_quota_ = 8;
};

}  // namespace ec::backends::opencl
