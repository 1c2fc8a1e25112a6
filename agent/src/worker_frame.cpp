// Codec of the worker frames. Both sides treat the other's bytes as hostile: the verifier runs with a table and
// depth budget, the length prefix is capped before anything is allocated, and every enum is range-checked.
#include "worker_frame.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ec/worker_wire/worker_frame_generated.h"

namespace ec::agent::worker {
namespace {

namespace w = ec::worker_wire;
using fbb_t = flatbuffers::FlatBufferBuilder;
template <typename T>
using offsets = std::vector<flatbuffers::Offset<T>>;

error malformed(std::string why) { return fail(error_code::malformed, "worker frame: " + std::move(why)); }

std::string str(const flatbuffers::String* s) { return s ? s->str() : std::string(); }

// --- encoding --------------------------------------------------------------------------------------------------

offsets<w::Slice> encode_slices(fbb_t& b, const std::vector<slice>& slices) {
  offsets<w::Slice> out;
  for (const auto& s : slices)
    out.push_back(
        w::CreateSliceDirect(b, s.name.c_str(), static_cast<std::uint8_t>(s.type), &s.shape, s.offset, s.bytes));
  return out;
}

flatbuffers::Offset<void> encode_body(fbb_t& b, const run_request& r) {
  const auto inputs = encode_slices(b, r.inputs);
  const auto outputs = encode_slices(b, r.outputs);
  offsets<w::Scalar> scalars;
  for (const auto& s : r.scalars) scalars.push_back(w::CreateScalar(b, s.kind, s.bits, s.high_bits));
  flatbuffers::Offset<w::CustomCode> custom;
  if (const auto& c = r.custom)
    custom = w::CreateCustomCodeDirect(b, &c->spirv, c->opencl_c.c_str(), c->entry.c_str(), &c->local, &c->global);
  return w::CreateRunRequestDirect(b, r.task_id.c_str(), r.device_id.c_str(), r.kernel.c_str(), r.kernel_version,
                                   &inputs, &scalars, &outputs, r.groups[0], r.groups[1], r.bytes_moved, r.flops,
                                   r.budget_us, r.arena_bytes, custom)
      .Union();
}

flatbuffers::Offset<void> encode_body(fbb_t& b, const run_reply& r) {
  const auto outputs = encode_slices(b, r.outputs);
  const auto text = r.error.substr(0, max_error_text);
  return w::CreateRunReplyDirect(b, static_cast<std::uint8_t>(r.status), text.c_str(), r.timings.compile_us,
                                 r.timings.upload_us, r.timings.exec_us, r.timings.download_us, &outputs)
      .Union();
}

flatbuffers::Offset<void> encode_body(fbb_t& b, const ready& r) {
  std::vector<flatbuffers::Offset<flatbuffers::String>> ids;
  for (const auto& id : r.device_ids) ids.push_back(b.CreateString(id));
  return w::CreateReadyDirect(b, &ids, r.sandbox.c_str(), r.landlock_abi).Union();
}

flatbuffers::Offset<w::Device> encode_device(fbb_t& b, const discovered_device& d) {
  const auto& i = d.info;
  return w::CreateDeviceDirect(b, d.id.c_str(), i.backend.c_str(), i.name.c_str(), i.driver.c_str(), &i.uuid,
                               static_cast<std::uint8_t>(i.type), i.vendor_id, i.device_id, i.memory_bytes,
                               i.max_buffer_bytes, i.max_workgroup_size, i.shared_memory_bytes, i.subgroup_size, i.fp16,
                               i.fp64, i.int8, i.resource_group.c_str());
}

flatbuffers::Offset<void> encode_body(fbb_t& b, const discovery& r) {
  offsets<w::BackendStatus> backends;
  for (const auto& s : r.backends)
    backends.push_back(
        w::CreateBackendStatusDirect(b, s.name.c_str(), s.available, s.why.c_str(), s.module_path.c_str()));
  offsets<w::Device> devices;
  for (const auto& d : r.devices) devices.push_back(encode_device(b, d));
  return w::CreateDiscoveryDirect(b, &backends, &devices, r.discover_s, r.evaluate_s).Union();
}

w::Body body_type(const frame& f) {
  switch (f.index()) {
    case 0:
      return w::Body::RunRequest;
    case 1:
      return w::Body::RunReply;
    case 2:
      return w::Body::Ready;
    default:
      return w::Body::Discovery;
  }
}

// --- decoding --------------------------------------------------------------------------------------------------

result<protocol::dtype> dtype_of(std::uint8_t v) {
  if (v > static_cast<std::uint8_t>(protocol::dtype::f64)) return malformed("dtype " + std::to_string(v));
  return static_cast<protocol::dtype>(v);
}

result<std::vector<slice>> decode_slices(const flatbuffers::Vector<flatbuffers::Offset<w::Slice>>* v) {
  std::vector<slice> out;
  if (!v) return out;
  for (const auto* s : *v) {
    auto t = dtype_of(s->dtype());
    if (!t) return t.err();
    slice x{str(s->name()), *t, {}, s->offset(), s->bytes()};
    if (const auto* shape = s->shape()) {
      // The verifier checks a vector's length field is 4-aligned, not that its 8-byte elements are: a
      // corrupted offset can leave them misaligned, so copy the little-endian bytes instead of loading them.
      x.shape.resize(shape->size());
      if (!x.shape.empty()) std::memcpy(x.shape.data(), shape->Data(), x.shape.size() * sizeof(std::uint64_t));
    }
    out.push_back(std::move(x));
  }
  return out;
}

result<frame> decode_body(const w::RunRequest& m) {
  run_request r{str(m.task_id()),
                str(m.device_id()),
                str(m.kernel()),
                m.kernel_version(),
                {},
                {},
                {},
                {m.groups_x(), m.groups_y()},
                m.bytes_moved(),
                m.flops(),
                m.budget_us(),
                m.arena_bytes(),
                std::nullopt};
  auto in = decode_slices(m.inputs());
  auto out = decode_slices(m.outputs());
  if (!in) return in.err();
  if (!out) return out.err();
  r.inputs = std::move(*in);
  r.outputs = std::move(*out);
  if (m.scalars())
    for (const auto* s : *m.scalars()) r.scalars.push_back({s->kind(), s->bits(), s->high_bits()});
  if (const auto* c = m.custom()) {
    custom_code code;
    if (c->spirv()) code.spirv.assign(c->spirv()->begin(), c->spirv()->end());
    code.opencl_c = str(c->opencl_c());
    code.entry = str(c->entry());
    if (c->local()) code.local.assign(c->local()->begin(), c->local()->end());
    if (const auto* g = c->global()) {  // 8-byte elements, possibly misaligned in a corrupted frame (see shapes)
      code.global.resize(g->size());
      if (!code.global.empty()) std::memcpy(code.global.data(), g->Data(), code.global.size() * sizeof(std::uint64_t));
    }
    r.custom = std::move(code);
  }
  return frame{std::move(r)};
}

result<frame> decode_body(const w::RunReply& m) {
  if (m.status() > static_cast<std::uint8_t>(protocol::result_status::expired))
    return malformed("status " + std::to_string(m.status()));
  run_reply r{static_cast<protocol::result_status>(m.status()),
              str(m.error()).substr(0, max_error_text),
              {m.compile_us(), m.upload_us(), m.exec_us(), m.download_us()},
              {}};
  auto out = decode_slices(m.outputs());
  if (!out) return out.err();
  r.outputs = std::move(*out);
  return frame{std::move(r)};
}

result<frame> decode_body(const w::Ready& m) {
  ready r{{}, str(m.sandbox()), m.landlock_abi()};
  if (m.device_ids())
    for (const auto* s : *m.device_ids()) r.device_ids.push_back(str(s));
  return frame{std::move(r)};
}

result<discovered_device> decode_device(const w::Device& d) {
  if (d.type() > static_cast<std::uint8_t>(protocol::device_type::other)) return malformed("device type");
  discovered_device out{str(d.id()), {}};
  auto& i = out.info;
  i.backend = str(d.backend());
  i.name = str(d.name());
  i.driver = str(d.driver());
  if (d.uuid()) i.uuid.assign(d.uuid()->begin(), d.uuid()->end());
  i.type = static_cast<protocol::device_type>(d.type());
  i.vendor_id = d.vendor_id();
  i.device_id = d.device_id();
  i.memory_bytes = d.memory_bytes();
  i.max_buffer_bytes = d.max_buffer_bytes();
  i.max_workgroup_size = d.max_workgroup_size();
  i.shared_memory_bytes = d.shared_memory_bytes();
  i.subgroup_size = d.subgroup_size();
  i.fp16 = d.fp16();
  i.fp64 = d.fp64();
  i.int8 = d.int8();
  i.resource_group = str(d.resource_group());
  return out;
}

result<frame> decode_body(const w::Discovery& m) {
  discovery r;
  r.discover_s = m.discover_s();
  r.evaluate_s = m.evaluate_s();
  if (m.backends())
    for (const auto* b : *m.backends())
      r.backends.push_back({str(b->name()), b->available(), str(b->why()), str(b->module_path())});
  if (m.devices())
    for (const auto* d : *m.devices()) {
      auto dev = decode_device(*d);
      if (!dev) return dev.err();
      r.devices.push_back(std::move(*dev));
    }
  return frame{std::move(r)};
}

// --- I/O -------------------------------------------------------------------------------------------------------

// Waits until fd is readable or the deadline passes; `timeout` then.
result<void> wait_readable(int fd, std::optional<backends::clock::time_point> deadline) {
  for (;;) {
    int ms = -1;
    if (deadline) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - backends::clock::now()).count();
      if (left <= 0) return fail(error_code::timeout, "no answer from the worker before the deadline");
      ms = static_cast<int>(std::min<long long>(left, 60'000));
    }
    pollfd p{fd, POLLIN, 0};
    const int n = ::poll(&p, 1, ms);
    if (n > 0) return {};
    if (n < 0 && errno != EINTR) return fail(error_code::io_error, std::string("poll: ") + std::strerror(errno));
  }
}

result<void> read_exact(int fd, std::uint8_t* out, std::size_t n, std::optional<backends::clock::time_point> deadline) {
  while (n > 0) {
    if (auto r = wait_readable(fd, deadline); !r) return r;
    const auto got = ::read(fd, out, n);
    if (got == 0) return fail(error_code::unavailable, "the peer closed the channel");
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      if (errno == ECONNRESET) return fail(error_code::unavailable, "the peer closed the channel");
      return fail(error_code::io_error, std::string("read: ") + std::strerror(errno));
    }
    out += got;
    n -= static_cast<std::size_t>(got);
  }
  return {};
}

}  // namespace

protocol::bytes encode(const frame& f) {
  fbb_t b(1024);
  const auto body = std::visit([&](const auto& m) { return encode_body(b, m); }, f);
  b.Finish(w::CreateFrame(b, body_type(f), body), w::FrameIdentifier());
  return {b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize()};
}

namespace {

result<frame> decode_aligned(protocol::byte_span bytes) {
  flatbuffers::Verifier::Options o;
  o.max_depth = 8;
  o.max_tables = 4096;
  o.check_alignment = true;
  flatbuffers::Verifier v(bytes.data(), bytes.size(), o);
  if (!w::VerifyFrameBuffer(v)) return malformed("fails the verifier");
  const auto* f = w::GetFrame(bytes.data());
  // A union's type may be set with its table absent: the verifier accepts that, the reader must not.
  if (const auto* m = f->body_as_RunRequest()) return decode_body(*m);
  if (const auto* m = f->body_as_RunReply()) return decode_body(*m);
  if (const auto* m = f->body_as_Ready()) return decode_body(*m);
  if (const auto* m = f->body_as_Discovery()) return decode_body(*m);
  return malformed("no body");
}

}  // namespace

result<frame> decode(protocol::byte_span bytes) {
  if (bytes.size() > max_frame_bytes) return fail(error_code::too_large, "worker frame above the cap");
  if (reinterpret_cast<std::uintptr_t>(bytes.data()) % alignof(std::uint64_t) == 0) return decode_aligned(bytes);
  // The verifier checks alignment relative to the buffer's start; reading a [uint64] needs it in memory too.
  std::vector<std::uint64_t> aligned((bytes.size() + 7) / 8);
  std::memcpy(aligned.data(), bytes.data(), bytes.size());
  return decode_aligned({reinterpret_cast<const std::uint8_t*>(aligned.data()), bytes.size()});
}

result<void> send_frame(int fd, const frame& f) {
  const auto body = encode(f);
  if (body.size() > max_frame_bytes) return fail(error_code::too_large, "worker frame above the cap");
  protocol::bytes out(4 + body.size());
  const auto n = static_cast<std::uint32_t>(body.size());
  for (int i = 0; i < 4; ++i) out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (8 * i));
  std::memcpy(out.data() + 4, body.data(), body.size());
  std::size_t done = 0;
  while (done < out.size()) {
    // MSG_NOSIGNAL: a dead worker must cost an error here, not a SIGPIPE that ends the agent.
    const auto w = ::send(fd, out.data() + done, out.size() - done, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return fail(error_code::unavailable, std::string("the peer is gone: ") + std::strerror(errno));
    done += static_cast<std::size_t>(w);
  }
  return {};
}

result<frame> receive_frame(int fd, std::optional<backends::clock::time_point> deadline) {
  std::uint8_t prefix[4];
  if (auto r = read_exact(fd, prefix, 4, deadline); !r) return r.err();
  const std::uint32_t n = prefix[0] | (prefix[1] << 8) | (prefix[2] << 16) | (std::uint32_t{prefix[3]} << 24);
  if (n > max_frame_bytes) return fail(error_code::too_large, "worker frame of " + std::to_string(n) + " bytes");
  protocol::bytes body(n);
  if (auto r = read_exact(fd, body.data(), n, deadline); !r) return r.err();
  return decode(body);
}

}  // namespace ec::agent::worker
