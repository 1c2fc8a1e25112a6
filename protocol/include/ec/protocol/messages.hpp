// The protocol's messages as plain C++ values, and builders that serialise them to FlatBuffers bytes.
// Readers over received bytes are the *_view classes in message_views.hpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ec/protocol/bytes.hpp"
#include "ec/protocol/error.hpp"

namespace ec::protocol {

// Enums mirror ec.wire (protocol.md); values are normative.
enum class dtype : std::uint8_t { u8 = 0, u32 = 1, i32 = 2, u64 = 3, f32 = 4, f64 = 5 };
enum class device_type : std::uint8_t { cpu = 0, integrated_gpu = 1, discrete_gpu = 2, virtual_gpu = 3, other = 4 };
enum class validation_mode : std::uint8_t { exact = 0, tolerance = 1 };
enum class result_status : std::uint8_t {
  ok = 0, kernel_error = 1, timeout = 2, rejected = 3, unsupported = 4, cancelled = 5, expired = 6
};
enum class agent_state : std::uint8_t { run = 0, pause = 1, drain = 2 };

/// Bytes per element; 0 for a value outside the enum.
std::size_t dtype_size(dtype t) noexcept;
/// "f32", ...
std::string_view to_string(dtype t) noexcept;
/// "ok", "kernel_error", ...
std::string_view to_string(result_status s) noexcept;

/// A tensor seen without owning it (name and data point into a buffer that must outlive it).
struct tensor_ref {
  std::string_view name;
  dtype type = dtype::u8;
  std::vector<std::uint64_t> shape;
  byte_span data;
};

/// Elements x dtype size of a shape, or nothing on overflow or an unknown dtype.
std::optional<std::uint64_t> tensor_byte_size(dtype t, std::span<const std::uint64_t> shape);

struct tensor {
  std::string name;
  dtype type = dtype::u8;
  std::vector<std::uint64_t> shape;
  bytes data;  // little-endian, row-major; empty for a declared output
  [[nodiscard]] tensor_ref ref() const { return {name, type, shape, data}; }
  bool operator==(const tensor&) const = default;
};

struct param {
  std::string name;
  dtype type = dtype::i32;
  std::int64_t i = 0;  // integer dtypes
  double f = 0.0;      // float dtypes
  bool operator==(const param&) const = default;
};

struct device_info {
  std::string backend, name, driver;
  bytes uuid;
  device_type type = device_type::cpu;
  std::uint32_t vendor_id = 0, device_id = 0;
  std::uint64_t memory_bytes = 0, max_buffer_bytes = 0;
  std::uint32_t max_workgroup_size = 0, shared_memory_bytes = 0, subgroup_size = 0;
  bool fp16 = false, fp64 = false, int8 = false;
  std::string resource_group;
  std::vector<std::string> kernels;
  std::vector<std::uint32_t> kernel_versions;
  bool operator==(const device_info&) const = default;
};

struct agent_hello {
  std::string agent_id;
  bytes public_key;  // SPKI DER
  std::string enrollment_token;
  std::uint64_t session_seq = 0;
  std::string version, os, arch, abi;
  std::vector<device_info> devices;
  std::uint32_t max_slots = 0;
  bool online = true;
  agent_state state = agent_state::run;
  std::string paused_reason;
  std::uint64_t last_control_seq = 0, spool_bytes = 0, sent_at_ms = 0;
  std::vector<std::string> out_of_service;  // resource groups out of service; their devices are not in `devices`
  bool operator==(const agent_hello&) const = default;
};

struct work_request {
  std::string agent_id, request_id;
  std::uint32_t free_slots = 0, max_tasks = 0, max_batch_bytes = 0;
  std::uint64_t sent_at_ms = 0;
  bool operator==(const work_request&) const = default;
};

struct custom_kernel {
  bytes spirv;
  std::string opencl_c, entry;
  std::vector<std::uint32_t> local_size;
  std::vector<std::uint64_t> global_size;
  bytes code_key_id, code_signature;
  bool operator==(const custom_kernel&) const = default;
};

struct task {
  std::string task_id, job_id;
  std::uint32_t attempt = 0;
  std::string agent_id, kernel;
  std::uint32_t kernel_version = 0;
  std::optional<custom_kernel> custom;
  std::vector<param> params;
  std::vector<tensor> inputs, outputs;
  validation_mode validation = validation_mode::exact;
  double rtol = 0.0, atol = 0.0;
  std::uint64_t issued_at_ms = 0, expires_at_ms = 0;
  std::uint32_t max_runtime_ms = 0;
  std::uint64_t min_memory_bytes = 0;
  std::string backend_hint;
  bool operator==(const task&) const = default;
};

struct task_batch {
  std::string agent_id, in_reply_to;
  std::vector<bytes> tasks;  // Task blobs, each built with build(task)
  std::uint32_t retry_after_ms = 0;
  std::uint64_t sent_at_ms = 0;
  bool operator==(const task_batch&) const = default;
};

struct timings {
  std::uint64_t queued_us = 0, compile_us = 0, upload_us = 0, exec_us = 0, download_us = 0, total_us = 0;
  bool operator==(const timings&) const = default;
};

struct task_result {
  std::string task_id, job_id;
  std::uint32_t attempt = 0;
  std::string agent_id;
  bytes task_digest;
  result_status status = result_status::ok;
  std::string error;
  std::vector<tensor> outputs;
  bytes output_digest;
  std::optional<device_info> device;
  std::optional<timings> timing;
  std::uint64_t finished_at_ms = 0;
  std::optional<std::uint64_t> energy_uj;  // the agent's sensors' measure of the run; nothing: unknown
  bool operator==(const task_result&) const = default;
};

struct result_batch {
  std::string agent_id;
  std::vector<bytes> results;  // Result blobs, each built with build(task_result)
  std::uint64_t sent_at_ms = 0;
  bool operator==(const result_batch&) const = default;
};

struct receipt_entry {
  std::string task_id;
  std::uint32_t attempt = 0;
  bytes result_digest;
  bool accepted = false;
  std::string reason;  // "", "no_lease", "unknown_task", "unknown_agent", "superseded"
  bool operator==(const receipt_entry&) const = default;
};

struct receipt {
  std::string agent_id;
  std::vector<receipt_entry> entries;
  std::uint64_t sent_at_ms = 0;
  bool operator==(const receipt&) const = default;
};

struct control {
  std::string agent_id;  // empty on P/control
  std::uint64_t seq = 0;
  agent_state desired_state = agent_state::run;
  std::vector<std::string> cancel_task_ids;
  std::uint32_t max_slots = 0;
  std::uint64_t sent_at_ms = 0;
  bool operator==(const control&) const = default;
};

/// Serialises a message body (a Task or Result blob carries its file identifier ECT1 / ECR1).
bytes build(const agent_hello& m);
bytes build(const work_request& m);
bytes build(const task& m);
bytes build(const task_batch& m);
bytes build(const task_result& m);
bytes build(const result_batch& m);
bytes build(const receipt& m);
bytes build(const control& m);

}  // namespace ec::protocol
