// run(): limits first (clear `unsupported` errors before any allocation), then program, buffers, one
// NDRange, a deadline wait, and the reads. Buffer sizes are padded to 4 bytes so uint loads of byte tensors
// stay inside the buffer; outputs are zero-filled because accumulating kernels (histogram) start from zero.
#include "opencl_device.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "cl_errors.hpp"
#include "ec/protocol/bytes.hpp"
#include "event_wait.hpp"

namespace ec::backends::opencl {
namespace {

std::uint64_t since_us(clock::time_point start) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - start).count());
}

std::uint64_t padded_size(std::uint64_t bytes) {
  return std::max<std::uint64_t>(min_buffer_bytes, (bytes + 3) & ~3ull);
}

std::string options_for(const device_facts& f) {
  // -cl-std names an OpenCL C version the device must support; a 1.0 device gets no flag at all.
  if (f.c_major > 1 || (f.c_major == 1 && f.c_minor >= 2)) return "-cl-std=CL1.2";
  if (f.c_major == 1 && f.c_minor == 1) return "-cl-std=CL1.1";
  return {};
}

template <typename T>
T kernel_work_group_value(cl_kernel kernel, cl_device_id device, cl_kernel_work_group_info what) {
  T v{};
  return clGetKernelWorkGroupInfo(kernel, device, what, sizeof v, &v, nullptr) == CL_SUCCESS ? v : T{};
}

// Work-items of one group; every factor is below 2^32, and x * y is multiplied by z only when it is at most
// `limit` (a work-group size, far below 2^32), so nothing wraps.
std::uint64_t group_size_up_to(const kernels::local_size& local, std::uint64_t limit) {
  const std::uint64_t xy = std::uint64_t{local.x} * local.y;
  return xy > limit ? xy : xy * local.z;
}

std::string local_text(const kernels::local_size& local) {
  return std::to_string(local.x) + "x" + std::to_string(local.y) + "x" + std::to_string(local.z);
}

std::string too_big(std::string_view kind, std::string_view name, std::uint64_t bytes, std::uint64_t limit) {
  return std::string(kind) + " '" + std::string(name) + "' needs " + std::to_string(bytes) +
         " bytes, above this device's largest buffer of " + std::to_string(limit) +
         " bytes (CL_DEVICE_MAX_MEM_ALLOC_SIZE)";
}

}  // namespace

result<std::unique_ptr<opencl_device>> opencl_device::create(cl_platform_id platform, cl_device_id handle,
                                                             std::size_t platform_index, std::size_t device_index,
                                                             const program_cache* cache) {
  auto facts = query_device(platform, handle);
  std::unique_ptr<opencl_device> d(
      new opencl_device(handle, std::move(facts),
                        "opencl:" + std::to_string(platform_index) + ":" + std::to_string(device_index), cache));
  const cl_context_properties props[] = {CL_CONTEXT_PLATFORM, reinterpret_cast<cl_context_properties>(platform), 0};
  cl_int rc = CL_SUCCESS;
  d->context_ = context_handle(clCreateContext(props, 1, &handle, nullptr, nullptr, &rc));
  if (rc != CL_SUCCESS) return cl_fail("clCreateContext for " + d->facts_.info.name, rc);
  // Profiling gives exec_us without the enqueue and wake-up overhead; a driver that refuses it gets wall clock.
  d->queue_ = queue_handle(clCreateCommandQueue(d->context(), handle, CL_QUEUE_PROFILING_ENABLE, &rc));
  d->profiling_ = rc == CL_SUCCESS;
  if (rc != CL_SUCCESS) d->queue_ = queue_handle(clCreateCommandQueue(d->context(), handle, 0, &rc));
  if (rc != CL_SUCCESS) return cl_fail("clCreateCommandQueue for " + d->facts_.info.name, rc);
  return d;
}

opencl_device::opencl_device(cl_device_id handle, device_facts facts, std::string id, const program_cache* cache)
    : device_(handle), facts_(std::move(facts)), id_(std::move(id)), cache_(cache) {
  build_options_ = options_for(facts_);
}

program_stats opencl_device::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

bool opencl_device::supports(const kernels::kernel_spec& kernel) const {
  if (kernel.opencl_source.empty()) return false;
  const std::uint64_t group = group_size_up_to(kernel.local, facts_.info.max_workgroup_size);
  if (group == 0 || group > facts_.info.max_workgroup_size || kernel.local.x > facts_.max_work_item_sizes[0] ||
      kernel.local.y > facts_.max_work_item_sizes[1] || kernel.local.z > facts_.max_work_item_sizes[2])
    return false;
  // A kernel that enables an extension needs the device to have it (the pragma is how OpenCL C asks).
  if (!facts_.info.fp64 && kernel.opencl_source.find("cl_khr_fp64") != std::string_view::npos) return false;
  if (!facts_.info.fp16 && kernel.opencl_source.find("cl_khr_fp16") != std::string_view::npos) return false;
  return true;
}

result<void> opencl_device::check_limits(const kernels::bound_call& call) const {
  const auto& spec = *call.spec;
  const std::uint64_t limit = facts_.info.max_buffer_bytes;
  for (const auto& in : call.inputs)
    if (padded_size(in.data.size()) > limit)
      return fail(error_code::unsupported, too_big("input", in.name, in.data.size(), limit));
  for (const auto& o : call.outputs)
    if (padded_size(o.bytes) > limit) return fail(error_code::unsupported, too_big("output", o.name, o.bytes, limit));
  const std::uint64_t group = group_size_up_to(spec.local, facts_.info.max_workgroup_size);
  if (group == 0 || group > facts_.info.max_workgroup_size)
    return fail(error_code::unsupported, std::string(spec.name) + ": local size " + local_text(spec.local) +
                                             " exceeds the device's " + std::to_string(facts_.info.max_workgroup_size) +
                                             " work-items per group (CL_DEVICE_MAX_WORK_GROUP_SIZE)");
  const auto& most = facts_.max_work_item_sizes;
  if (spec.local.x > most[0] || spec.local.y > most[1] || spec.local.z > most[2])
    return fail(error_code::unsupported, std::string(spec.name) + ": local size " + local_text(spec.local) +
                                             " exceeds CL_DEVICE_MAX_WORK_ITEM_SIZES (" + std::to_string(most[0]) +
                                             "x" + std::to_string(most[1]) + "x" + std::to_string(most[2]) + ")");
  return {};
}

void opencl_device::remember_custom(const std::string& key) {
  custom_lru_.remove(key);
  custom_lru_.push_front(key);
  // A timed-out kernel may still run from an evicted program: OpenCL retains it until the command completes.
  while (custom_lru_.size() > custom_quota_) {
    kernels_.erase(custom_lru_.back());
    custom_lru_.pop_back();
  }
}

std::size_t opencl_device::custom_programs() const {
  std::lock_guard lock(mutex_);
  return custom_lru_.size();
}

result<opencl_device::compiled_kernel*> opencl_device::kernel_for(const kernels::kernel_spec& spec,
                                                                  run_timings& timings, bool custom) {
  const program_identity identity{spec.opencl_source, build_options_, facts_.info.name, facts_.driver_version,
                                  facts_.platform_version};
  // Custom keys also cover the entry name (the catalogue's is fixed by its source), and never meet catalogue keys.
  const std::string key =
      (custom ? "custom:" + std::string(spec.name) + ":" : std::string()) + protocol::to_hex(program_key(identity));
  if (auto it = kernels_.find(key); it != kernels_.end()) {
    if (custom) remember_custom(key);
    return it->second.get();
  }

  static const program_cache no_cache({}, 0);
  // Custom code never reaches the disk cache: its quota is the in-memory LRU alone.
  auto built = build_program(context(), device_, identity, cache_ && !custom ? *cache_ : no_cache);
  if (!built) return built.err();
  timings.compile_us = built->build_us;
  switch (built->origin) {
    case program_origin::cache_hit:
      ++stats_.cache_hits;
      break;
    case program_origin::source:
      ++stats_.source_builds;
      break;
    case program_origin::source_after_bad:
      ++stats_.source_builds;
      ++stats_.rejected_binaries;
      break;
  }
  auto entry = std::make_unique<compiled_kernel>();
  entry->program = std::move(built->program);
  const std::string name(spec.name);
  cl_int rc = CL_SUCCESS;
  entry->kernel = kernel_handle(clCreateKernel(entry->program.get(), name.c_str(), &rc));
  if (rc != CL_SUCCESS) return cl_fail("clCreateKernel(" + name + ")", rc);
  entry->max_group = kernel_work_group_value<std::size_t>(entry->kernel.get(), device_, CL_KERNEL_WORK_GROUP_SIZE);
  entry->local_mem = kernel_work_group_value<cl_ulong>(entry->kernel.get(), device_, CL_KERNEL_LOCAL_MEM_SIZE);
  if (clGetKernelInfo(entry->kernel.get(), CL_KERNEL_NUM_ARGS, sizeof entry->num_args, &entry->num_args, nullptr) !=
      CL_SUCCESS)
    entry->num_args = 0;
  auto* held = kernels_.emplace(key, std::move(entry)).first->second.get();
  if (custom) remember_custom(key);
  return held;
}

result<run_output> opencl_device::run(const kernels::bound_call& call, clock::time_point deadline) {
  return run_bound(call, deadline, false);
}

// Before the build: the code is there, and the declared sizes fit (no clamping of a custom dispatch: custom
// kernels need not loop grid-stride). run_bound then checks the buffers and the local size.
result<run_output> opencl_device::run_custom(const custom_call& call, clock::time_point deadline) {
  const custom_binding binding(call);
  if (binding.spec().opencl_source.empty())
    return fail(error_code::unsupported, "the custom kernel carries no OpenCL C");
  const auto& b = binding.call();
  const std::uint64_t groups[] = {b.groups[0], b.groups[1], b.groups_z};
  for (std::size_t d = 0; d < 3; ++d)
    if (groups[d] > max_groups_per_dim)
      return fail(error_code::unsupported, "custom dispatch of " + std::to_string(groups[d]) +
                                               " workgroups in dimension " + std::to_string(d) + " exceeds " +
                                               std::to_string(max_groups_per_dim));
  for (const auto& s : b.scalars)
    if (s.kind == kernels::scalar_kind::f64 && !facts_.info.fp64)
      return fail(error_code::unsupported,
                  "the custom kernel takes an f64 param; " + facts_.info.name + " has no cl_khr_fp64 (double)");
  return run_bound(b, deadline, true);
}

result<run_output> opencl_device::run_bound(const kernels::bound_call& call, clock::time_point deadline, bool custom) {
  if (!call.spec) return fail(error_code::invalid_argument, "unbound call");
  const auto& spec = *call.spec;
  const std::string name(spec.name);
  if (spec.opencl_source.empty()) return fail(error_code::unsupported, name + " has no OpenCL C source");
  if (call.inputs.size() != spec.inputs.size() || call.outputs.size() != spec.outputs.size())
    return fail(error_code::invalid_argument, name + ": call does not match the kernel's inputs and outputs");
  if (auto r = check_limits(call); !r) return r.err();
  if (clock::now() >= deadline) return fail(error_code::timeout, "deadline passed before " + name + " started");

  std::lock_guard lock(mutex_);
  run_output out;
  auto compiled = kernel_for(spec, out.timings, custom);
  if (!compiled) return compiled.err();
  compiled_kernel& ck = **compiled;
  // A cold build can take most of a second; the program stays cached, so a retry starts straight away.
  if (clock::now() >= deadline) return fail(error_code::timeout, "deadline passed while building " + name);
  const std::uint64_t group = std::uint64_t{spec.local.x} * spec.local.y * spec.local.z;  // check_limits bounded it
  if (ck.max_group != 0 && group > ck.max_group)
    return fail(error_code::unsupported, name + ": local size " + std::to_string(group) + " exceeds " +
                                             std::to_string(ck.max_group) +
                                             " work-items, this kernel's limit here (CL_KERNEL_WORK_GROUP_SIZE)");
  if (ck.local_mem > facts_.local_mem_bytes)
    return fail(error_code::unsupported, name + " needs " + std::to_string(ck.local_mem) +
                                             " bytes of local memory; the device has " +
                                             std::to_string(facts_.local_mem_bytes));
  const std::size_t buffers = call.inputs.size() + call.outputs.size();
  if (ck.num_args != 0 && ck.num_args != buffers + call.scalars.size())
    return fail(error_code::invalid_argument, name + " takes " + std::to_string(ck.num_args) +
                                                  " arguments; the call binds " +
                                                  std::to_string(buffers + call.scalars.size()));

  // Upload: inputs are copied at creation (no queue command, so a busy queue cannot block it).
  auto start = clock::now();
  std::vector<mem_handle> mems;
  mems.reserve(buffers);
  std::vector<std::uint8_t> staging;
  for (const auto& in : call.inputs) {
    const std::uint64_t size = padded_size(in.data.size());
    const void* host = in.data.data();
    if (size != in.data.size()) {  // zero-size or not a multiple of 4: copy into a zero-padded block
      staging.assign(size, 0);
      if (!in.data.empty()) std::memcpy(staging.data(), in.data.data(), in.data.size());
      host = staging.data();
    }
    cl_int rc = CL_SUCCESS;
    mems.emplace_back(
        clCreateBuffer(context(), CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, size, const_cast<void*>(host), &rc));
    if (rc != CL_SUCCESS) return cl_fail("clCreateBuffer for input '" + std::string(in.name) + "'", rc);
  }
  for (const auto& o : call.outputs) {
    const std::uint64_t size = padded_size(o.bytes);
    cl_int rc = CL_SUCCESS;
    // Read-write, not write-only: a kernel may accumulate into its output (atomics), which reads it.
    mems.emplace_back(clCreateBuffer(context(), CL_MEM_READ_WRITE, size, nullptr, &rc));
    if (rc != CL_SUCCESS) return cl_fail("clCreateBuffer for output '" + o.name + "'", rc);
    const cl_uint zero = 0;
    rc = clEnqueueFillBuffer(queue_.get(), mems.back().get(), &zero, sizeof zero, 0, size, 0, nullptr, nullptr);
    if (rc != CL_SUCCESS) return cl_fail("clEnqueueFillBuffer for output '" + o.name + "'", rc);
  }
  out.timings.upload_us = since_us(start);

  cl_kernel kernel = ck.kernel.get();
  cl_uint arg = 0;
  for (const auto& m : mems) {
    const cl_mem handle = m.get();
    if (const cl_int rc = clSetKernelArg(kernel, arg, sizeof handle, &handle); rc != CL_SUCCESS)
      return cl_fail(name + ": clSetKernelArg(" + std::to_string(arg) + ")", rc);
    ++arg;
  }
  for (const auto& s : call.scalars) {
    // uint, int and float are 32 bits, ulong, long and double 64; the host's bit pattern is the value for each.
    const std::uint64_t wide = s.wide_bits();
    const bool eight = kernels::scalar_bytes(s.kind) == 8;
    const void* value = eight ? static_cast<const void*>(&wide) : static_cast<const void*>(&s.bits);
    if (const cl_int rc = clSetKernelArg(kernel, arg, eight ? sizeof wide : sizeof s.bits, value); rc != CL_SUCCESS)
      return cl_fail(name + ": clSetKernelArg(" + std::to_string(arg) + ", " + std::string(s.name) + ")", rc);
    ++arg;
  }

  const std::size_t local[3] = {spec.local.x, spec.local.y, spec.local.z};
  const std::uint64_t groups[3] = {call.groups[0], call.groups[1], call.groups_z};
  std::size_t global[3];
  for (int i = 0; i < 3; ++i)
    global[i] = static_cast<std::size_t>(std::clamp<std::uint64_t>(groups[i], 1, max_groups_per_dim)) * local[i];
  start = clock::now();
  event_handle done;
  // The fewest dimensions that hold the grid: a 2-D kernel is not enqueued as 3-D.
  const cl_uint dims = spec.local.z > 1 || groups[2] > 1 ? 3 : spec.local.y > 1 || groups[1] > 1 ? 2 : 1;
  if (const cl_int rc =
          clEnqueueNDRangeKernel(queue_.get(), kernel, dims, nullptr, global, local, 0, nullptr, done.out());
      rc != CL_SUCCESS)
    return cl_fail(name + ": clEnqueueNDRangeKernel", rc);
  if (auto r = wait_for_event(queue_.get(), done.get(), deadline, name); !r) return r.err();
  out.timings.exec_us = since_us(start);
  cl_ulong began = 0, ended = 0;
  if (profiling_ &&
      clGetEventProfilingInfo(done.get(), CL_PROFILING_COMMAND_START, sizeof began, &began, nullptr) == CL_SUCCESS &&
      clGetEventProfilingInfo(done.get(), CL_PROFILING_COMMAND_END, sizeof ended, &ended, nullptr) == CL_SUCCESS &&
      ended >= began)
    out.timings.exec_us = (ended - began) / 1000;

  // Download: the kernel is done, so the in-order queue holds nothing ahead of these commands, and blocking
  // maps keep host lifetimes simple (nothing can outlive `out`). Mapping instead of clEnqueueReadBuffer saves
  // a pass on unified-memory devices (Mali, Adreno, PoCL): the tensor is built straight from the mapping
  // rather than zero-filled by resize() and then overwritten.
  start = clock::now();
  out.outputs.reserve(call.outputs.size());
  for (std::size_t i = 0; i < call.outputs.size(); ++i) {
    const auto& o = call.outputs[i];
    protocol::tensor t{o.name, o.type, o.shape, {}};
    if (o.bytes > 0) {
      const cl_mem m = mems[call.inputs.size() + i].get();
      cl_int rc = CL_SUCCESS;
      void* mapped = clEnqueueMapBuffer(queue_.get(), m, CL_TRUE, CL_MAP_READ, 0, o.bytes, 0, nullptr, nullptr, &rc);
      if (rc != CL_SUCCESS) return cl_fail("clEnqueueMapBuffer for output '" + o.name + "'", rc);
      const auto* p = static_cast<const std::uint8_t*>(mapped);
      bool allocated = true;
      try {
        t.data.assign(p, p + o.bytes);
      } catch (const std::bad_alloc&) {
        allocated = false;
      }
      // The unmap is ordered before any later command on this in-order queue; nothing waits for it here.
      rc = clEnqueueUnmapMemObject(queue_.get(), m, mapped, 0, nullptr, nullptr);
      if (!allocated) return fail(error_code::out_of_memory, "cannot allocate output '" + o.name + "'");
      if (rc != CL_SUCCESS) return cl_fail("clEnqueueUnmapMemObject for output '" + o.name + "'", rc);
    }
    out.outputs.push_back(std::move(t));
  }
  out.timings.download_us = since_us(start);
  return out;
}

}  // namespace ec::backends::opencl
