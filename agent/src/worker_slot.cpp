// One worker, one task at a time. Outputs are copied out of the arena into owned tensors before the outcome
// leaves this file, so what is digested and signed can no longer change under a (compromised) worker.
#include "worker_slot.hpp"

#include <sys/socket.h>

#include <cstring>

#include "ec/agent/log.hpp"

namespace ec::agent::worker {
namespace {

constexpr std::uint64_t align = 64;
constexpr std::uint64_t initial_arena = 1 << 20;

std::uint64_t aligned(std::uint64_t n) { return (n + align - 1) / align * align; }

std::uint64_t us_between(backends::clock::time_point a, backends::clock::time_point b) {
  return static_cast<std::uint64_t>(
      std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::microseconds>(b - a).count()));
}

bool same_place(const slice& a, const slice& b) {
  return a.offset == b.offset && a.bytes == b.bytes && a.type == b.type && a.shape == b.shape;
}

}  // namespace

result<ready> worker_slot::start(const slot_spec& spec) {
  stop();
  kill_grace_min_ = spec.kill_grace_min;
  if (arena_.fd() < 0) {
    auto a = shared_arena::create(initial_arena);
    if (!a) return a.err();
    arena_ = std::move(*a);
  }
  auto args = spec.args;
  args.insert(args.end(), {"--fd", std::to_string(child_channel_fd), "--arena-fd", std::to_string(child_arena_fd)});
  auto c = spawn_child(spec.binary, args, arena_.fd());
  if (!c) return c.err();
  child_ = *c;
  auto f = receive_frame(child_.fd, backends::clock::now() + spec.start_timeout);
  const auto* r = f ? std::get_if<ready>(&*f) : nullptr;
  if (r) return *r;
  const auto why = f ? std::string("worker sent something other than Ready") : f.err().what();
  const auto how = f.code() == error_code::timeout ? (kill_child(child_), std::string("killed at the start timeout"))
                                                   : end_child(child_, std::chrono::milliseconds(1000));
  return fail(f.code() == error_code::timeout ? error_code::timeout : error_code::unavailable,
              "worker did not start: " + why + "; " + how);
}

void worker_slot::stop() {
  if (!child_.running()) return;
  ::shutdown(child_.fd, SHUT_RDWR);  // the worker reads EOF and exits on its own
  end_child(child_, std::chrono::milliseconds(2000));
}

namespace {

// The custom call's code and sizes, copied into the frame (the task blob stays in the supervisor).
custom_code frame_code_of(const backends::custom_code& c) {
  custom_code out{{c.spirv.begin(), c.spirv.end()}, std::string(c.opencl_c), std::string(c.entry), {}, {}};
  for (std::uint32_t d = 0; d < c.dims && d < c.local.size(); ++d) {
    out.local.push_back(c.local[d]);
    out.global.push_back(c.global[d]);
  }
  return out;
}

}  // namespace

result<run_request> worker_slot::stage(const execution_request& request, const std::string& device_id) {
  // A custom call binds like a catalogue call (inputs, outputs, scalars); only its code travels too.
  kernels::bound_call custom_view;
  if (request.custom) {
    custom_view.inputs = request.custom->inputs;
    custom_view.outputs = request.custom->outputs;
    custom_view.scalars = request.custom->scalars;
  }
  const auto& call = request.custom ? custom_view : request.call;
  run_request req{request.task_id,
                  device_id,
                  request.custom ? std::string("custom") : std::string(call.spec->name),
                  request.custom ? 0 : call.spec->version,
                  {},
                  {},
                  {},
                  call.groups,
                  call.bytes_moved,
                  call.flops,
                  0,
                  0,
                  std::nullopt};
  if (request.custom) req.custom = frame_code_of(request.custom->code);
  std::uint64_t end = 0;
  for (const auto& in : call.inputs) {
    req.inputs.push_back({std::string(in.name), in.type, in.shape, end, in.data.size()});
    end += aligned(in.data.size());
  }
  for (const auto& out : call.outputs) {
    req.outputs.push_back({out.name, out.type, out.shape, end, out.bytes});
    end += aligned(out.bytes);
  }
  for (const auto& s : call.scalars) req.scalars.push_back({static_cast<std::uint8_t>(s.kind), s.bits, s.high_bits});
  if (auto r = arena_.ensure(std::max<std::uint64_t>(end, 1)); !r) return r.err();
  for (std::size_t i = 0; i < call.inputs.size(); ++i)
    if (!call.inputs[i].data.empty())
      std::memcpy(arena_.data().data() + req.inputs[i].offset, call.inputs[i].data.data(), call.inputs[i].data.size());
  req.arena_bytes = arena_.data().size();
  req.budget_us = us_between(backends::clock::now(), request.deadline);
  return req;
}

slot_result worker_slot::lose(protocol::result_status status, std::string why, bool crashed) {
  slot_result r;
  r.outcome.status = status;
  r.outcome.error = std::move(why);
  r.worker_lost = true;
  r.crashed = crashed;
  return r;
}

slot_result worker_slot::run(const execution_request& request, const std::string& device_id) {
  if (!child_.running()) return lose(protocol::result_status::kernel_error, "no worker running", false);
  auto req = stage(request, device_id);
  if (!req) {
    slot_result r;
    r.outcome.error = req.err().what();
    return r;
  }
  // The worker gets the whole budget; SIGKILL comes a grace later, so a backend that honours its deadline
  // answers Timeout itself (with its reason); that worker is replaced all the same (collect()).
  const auto now = backends::clock::now();
  const auto budget = request.deadline > now ? request.deadline - now : backends::clock::duration::zero();
  const auto grace = std::max<backends::clock::duration>(kill_grace_min_, budget / 4);
  if (auto s = send_frame(child_.fd, *req); !s) {
    const auto how = end_child(child_, std::chrono::milliseconds(1000));
    return lose(protocol::result_status::kernel_error, "worker died: " + how, true);
  }
  return collect(*req, now + budget + grace);
}

slot_result worker_slot::collect(const run_request& sent, backends::clock::time_point kill_at) {
  auto f = receive_frame(child_.fd, kill_at);
  if (!f && f.code() == error_code::timeout) {
    kill_child(child_);
    return lose(protocol::result_status::timeout, "deadline passed: the worker was killed and is restarted", false);
  }
  if (!f && f.code() == error_code::unavailable) {
    const auto how = end_child(child_, std::chrono::milliseconds(1000));
    return lose(protocol::result_status::kernel_error, "worker died: " + how, true);
  }
  const auto* reply = f ? std::get_if<run_reply>(&*f) : nullptr;
  if (!reply) {
    kill_child(child_);
    return lose(protocol::result_status::kernel_error,
                "worker sent a bad frame: " + (f ? "not a reply" : f.err().what()), true);
  }
  // A backend that honoured its deadline cannot cancel what it queued: a runaway kernel (a never-terminating
  // custom kernel) keeps the device busy, and every later task would wait behind it. The worker goes too.
  if (reply->status == protocol::result_status::timeout) {
    kill_child(child_);
    return lose(protocol::result_status::timeout,
                "deadline passed (" + reply->error + "): the worker was killed and is restarted", false);
  }
  slot_result r;
  r.outcome.status = reply->status;
  r.outcome.error = reply->error;
  r.outcome.timings = reply->timings;
  if (reply->status != protocol::result_status::ok) return r;
  // The reply must point exactly where the request said: anything else is a misbehaving worker.
  bool placed = reply->outputs.size() == sent.outputs.size();
  for (std::size_t i = 0; placed && i < sent.outputs.size(); ++i)
    placed = same_place(reply->outputs[i], sent.outputs[i]);
  if (!placed) {
    kill_child(child_);
    return lose(protocol::result_status::kernel_error, "worker placed its outputs outside the request", true);
  }
  const auto arena = arena_.data();
  for (const auto& o : sent.outputs) {
    const auto* from = arena.data() + o.offset;
    r.outcome.outputs.push_back({o.name, o.type, o.shape, protocol::bytes(from, from + o.bytes)});
  }
  return r;
}

}  // namespace ec::agent::worker
