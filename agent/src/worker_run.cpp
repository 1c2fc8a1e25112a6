// The worker's side of a run. The request comes from the supervisor, but it is checked all the same: a wrong
// offset must never make the worker read or write outside the arena.
#include "worker_run.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstring>

#include "ec/kernels/catalog.hpp"
#include "task_queue.hpp"  // status_of

namespace ec::agent::worker {
namespace {

run_reply refuse(protocol::result_status status, std::string why) {
  run_reply r;
  r.status = status;
  r.error = std::move(why);
  return r;
}

result<void> check_slices(const std::vector<slice>& got, std::span<const kernels::tensor_spec> want,
                          std::uint64_t arena, const char* what) {
  if (got.size() != want.size()) return fail(error_code::malformed, std::string(what) + ": wrong count");
  for (std::size_t i = 0; i < got.size(); ++i) {
    const auto size = protocol::tensor_byte_size(got[i].type, got[i].shape);
    if (got[i].type != want[i].type || !size || *size != got[i].bytes || !inside(got[i].offset, got[i].bytes, arena))
      return fail(error_code::malformed,
                  std::string(what) + " " + std::to_string(i) + " does not fit its spec or the arena");
  }
  return {};
}

result<kernels::bound_call> rebuild(const run_request& req, std::span<std::uint8_t> arena) {
  const auto* spec = kernels::find_kernel(req.kernel);
  if (!spec || spec->version != req.kernel_version)
    return fail(error_code::unsupported, "kernel " + req.kernel + " v" + std::to_string(req.kernel_version));
  if (auto r = check_slices(req.inputs, spec->inputs, arena.size(), "input"); !r) return r.err();
  if (auto r = check_slices(req.outputs, spec->outputs, arena.size(), "output"); !r) return r.err();
  if (req.scalars.size() != spec->scalar_names.size()) return fail(error_code::malformed, "scalars: wrong count");
  kernels::bound_call call;
  call.spec = spec;
  for (std::size_t i = 0; i < req.inputs.size(); ++i) {
    const auto& s = req.inputs[i];
    call.inputs.push_back({spec->inputs[i].name, s.type, s.shape, arena.subspan(s.offset, s.bytes)});
  }
  for (std::size_t i = 0; i < req.scalars.size(); ++i) {
    if (req.scalars[i].kind > static_cast<std::uint8_t>(kernels::scalar_kind::f32))
      return fail(error_code::malformed, "scalar kind");
    call.scalars.push_back(
        {spec->scalar_names[i], static_cast<kernels::scalar_kind>(req.scalars[i].kind), req.scalars[i].bits});
  }
  for (const auto& s : req.outputs) call.outputs.push_back({s.name, s.type, s.shape, s.bytes});
  call.groups = req.groups;
  call.bytes_moved = req.bytes_moved;
  call.flops = req.flops;
  return call;
}

// A custom call over the arena: slices must lie inside it and match their dtype and shape; the code's sizes are
// checked again (the backend divides by the local size).
result<backends::custom_call> rebuild_custom(const run_request& req, std::span<std::uint8_t> arena) {
  const auto& code = *req.custom;
  backends::custom_call call;
  constexpr std::size_t max_dims = std::tuple_size_v<decltype(call.code.local)>;  // 3: x, y, z
  const auto dims = code.local.size();
  if (dims < 1 || dims > max_dims || code.global.size() != dims)
    return fail(error_code::malformed, "custom sizes: rank");
  call.code.spirv = code.spirv;
  call.code.opencl_c = code.opencl_c;
  call.code.entry = code.entry;
  call.code.dims = static_cast<std::uint32_t>(dims);
  for (std::size_t d = 0; d < dims; ++d) {
    if (code.local[d] == 0 || code.global[d] % code.local[d] != 0)
      return fail(error_code::malformed, "custom sizes: not a multiple of the local size");
    call.code.local[d] = code.local[d];
    call.code.global[d] = code.global[d];
  }
  for (const auto* group : {&req.inputs, &req.outputs})
    for (const auto& s : *group) {
      const auto size = protocol::tensor_byte_size(s.type, s.shape);
      if (!size || *size != s.bytes || !inside(s.offset, s.bytes, arena.size()))
        return fail(error_code::malformed, "custom tensor '" + s.name + "' does not fit its shape or the arena");
    }
  for (const auto& s : req.inputs) call.inputs.push_back({s.name, s.type, s.shape, arena.subspan(s.offset, s.bytes)});
  for (const auto& s : req.outputs) call.outputs.push_back({s.name, s.type, s.shape, s.bytes});
  // Custom params may be 8 bytes (u64, i64, f64); catalogue scalars (rebuild) stay 32-bit.
  for (const auto& s : req.scalars) {
    if (s.kind > static_cast<std::uint8_t>(kernels::scalar_kind::f64))
      return fail(error_code::malformed, "scalar kind");
    call.scalars.push_back({{}, static_cast<kernels::scalar_kind>(s.kind), s.bits, s.high_bits});
  }
  return call;
}

// Runs the request's call (catalogue or custom) on `device`.
result<backends::run_output> run_call(const run_request& req, backends::device& device, std::span<std::uint8_t> arena,
                                      backends::clock::time_point deadline) {
  if (req.custom) {
    auto call = rebuild_custom(req, arena);
    if (!call) return call.err();
    return device.run_custom(*call, deadline);
  }
  auto call = rebuild(req, arena);
  if (!call) return call.err();
  return device.run(*call, deadline);
}

#ifdef EC_TEST_HOOKS
// Test hooks, by reserved task id (docs/isolation.md). Compiled only where EC_TEST_HOOKS is on, never in
// releases. Returns true when the hook answered the request itself.
bool test_hook(const run_request& req, run_reply& out) {
  if (req.task_id.starts_with("ec-test-hang")) {
    std::atomic<std::uint64_t> spin{0};
    for (;;) spin.fetch_add(1, std::memory_order_relaxed);  // burns a core, as a runaway kernel does
  }
  if (req.task_id.starts_with("ec-test-segv")) {
    volatile int* null = nullptr;
    *null = 1;  // a real fault, as a buggy driver would make it
  }
  if (req.task_id.starts_with("ec-test-open:")) {
    const auto path = req.task_id.substr(std::strlen("ec-test-open:"));
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    out = refuse(protocol::result_status::kernel_error,
                 fd >= 0 ? "open: ok" : std::string("open: ") + std::strerror(errno));
    if (fd >= 0) ::close(fd);
    return true;
  }
  return false;
}
#endif

}  // namespace

run_reply run_in_worker(const run_request& req, const backends::registry& devices, shared_arena& arena) {
#ifdef EC_TEST_HOOKS
  if (run_reply hooked; test_hook(req, hooked)) return hooked;
#endif
  if (auto m = arena.map(req.arena_bytes); !m) return refuse(protocol::result_status::kernel_error, m.err().what());
  const auto* device = devices.find(req.device_id);
  if (!device) return refuse(protocol::result_status::unsupported, "no device " + req.device_id + " in this worker");
  const auto deadline = backends::clock::now() + std::chrono::microseconds(req.budget_us);
  auto out = run_call(req, *device->dev, arena.data(), deadline);
  if (!out) return refuse(agent::status_of(out.code()), out.err().what());
  if (out->outputs.size() != req.outputs.size())
    return refuse(protocol::result_status::kernel_error, "backend returned the wrong number of outputs");
  run_reply r;
  r.status = protocol::result_status::ok;
  r.timings = out->timings;
  for (std::size_t i = 0; i < req.outputs.size(); ++i) {
    const auto& dst = req.outputs[i];
    const auto& src = out->outputs[i].data;
    if (src.size() != dst.bytes) return refuse(protocol::result_status::kernel_error, "output of the wrong size");
    std::memcpy(arena.data().data() + dst.offset, src.data(), src.size());
    r.outputs.push_back(dst);
  }
  return r;
}

}  // namespace ec::agent::worker
