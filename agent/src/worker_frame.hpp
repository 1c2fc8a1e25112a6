// The frames between the supervisor and its worker processes (agent/schema/worker_frame.fbs) as plain values,
// their codec, and length-prefixed framing over a socket. Decoding verifies like network input on both sides.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "ec/backends/device.hpp"
#include "ec/backends/registry.hpp"
#include "ec/protocol/bytes.hpp"
#include "ec/protocol/error.hpp"
#include "ec/protocol/messages.hpp"

namespace ec::agent::worker {

/// Largest frame either side accepts: tensors travel in shared memory, frames carry only metadata and text.
inline constexpr std::size_t max_frame_bytes = 1024 * 1024;
/// Longest error text a worker may send (a driver message; longer text is cut).
inline constexpr std::size_t max_error_text = 4096;

/// A tensor's place in the shared arena.
struct slice {
  std::string name;
  protocol::dtype type = protocol::dtype::u8;
  std::vector<std::uint64_t> shape;
  std::uint64_t offset = 0;
  std::uint64_t bytes = 0;
};

/// One scalar argument of a bound call (kind and bit pattern; the name comes from the kernel's spec).
struct scalar {
  std::uint8_t kind = 0;
  std::uint32_t bits = 0;       // the low 32 bits
  std::uint32_t high_bits = 0;  // the high 32 bits of an 8-byte kind (u64, i64, f64)
};

/// Custom kernel code carried to the worker (owned copies: the frame outlives no task blob).
struct custom_code {
  protocol::bytes spirv;
  std::string opencl_c, entry;
  std::vector<std::uint32_t> local;
  std::vector<std::uint64_t> global;
};

/// Supervisor -> worker: run one call on one device.
struct run_request {
  std::string task_id, device_id, kernel;
  std::uint32_t kernel_version = 0;
  std::vector<slice> inputs;
  std::vector<scalar> scalars;
  std::vector<slice> outputs;
  std::array<std::uint64_t, 2> groups{1, 1};
  std::uint64_t bytes_moved = 0;
  double flops = 0;
  std::uint64_t budget_us = 0;
  std::uint64_t arena_bytes = 0;
  std::optional<custom_code> custom;  // set for a custom kernel
};

/// Worker -> supervisor: the outcome; outputs lie where the request put them.
struct run_reply {
  protocol::result_status status = protocol::result_status::kernel_error;
  std::string error;
  backends::run_timings timings;
  std::vector<slice> outputs;
};

/// Worker -> supervisor after start: its devices and the sandbox it put itself in.
struct ready {
  std::vector<std::string> device_ids;
  std::string sandbox;  // for logs and docs: "landlock abi 3, rlimit_data 2048 MiB, idle priority"
  std::int32_t landlock_abi = 0;
};

/// One device found by the discovery child.
struct discovered_device {
  std::string id;
  protocol::device_info info;
};

/// Discovery child -> supervisor: what probe found.
struct discovery {
  std::vector<backends::backend_status> backends;
  std::vector<discovered_device> devices;
  double discover_s = 0;
  double evaluate_s = 0;
};

using frame = std::variant<run_request, run_reply, ready, discovery>;

/// Serialises a frame (without its length prefix).
protocol::bytes encode(const frame& f);
/// Verifies (Verifier, size cap, identifier, enum ranges) and decodes a frame.
result<frame> decode(protocol::byte_span bytes);

/// Writes one length-prefixed frame; fails when the peer has gone.
result<void> send_frame(int fd, const frame& f);
/// Reads one length-prefixed frame, waiting until `deadline` (nullopt: forever). `timeout` when it passes,
/// `unavailable` when the peer closed the socket, `malformed`/`too_large` for a bad frame.
result<frame> receive_frame(int fd, std::optional<backends::clock::time_point> deadline);

}  // namespace ec::agent::worker
