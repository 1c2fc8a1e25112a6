// Builders: plain message values to FlatBuffers bytes. Tables are built children first, as FlatBuffers needs.
#include <flatbuffers/flatbuffers.h>

#include "ec/protocol/messages.hpp"
#include "ec/wire/agent_hello_generated.h"
#include "ec/wire/control_generated.h"
#include "ec/wire/receipt_generated.h"
#include "ec/wire/result_batch_generated.h"
#include "ec/wire/task_batch_generated.h"
#include "ec/wire/work_request_generated.h"

namespace ec::protocol {
namespace {

using fbb = flatbuffers::FlatBufferBuilder;
template <typename T>
using offset = flatbuffers::Offset<T>;

// Optional strings and vectors stay absent when empty, which keeps messages small.
offset<flatbuffers::String> opt_string(fbb& b, const std::string& s) {
  return s.empty() ? offset<flatbuffers::String>() : b.CreateString(s);
}

template <typename T>
offset<flatbuffers::Vector<T>> opt_vector(fbb& b, const std::vector<T>& v) {
  return v.empty() ? offset<flatbuffers::Vector<T>>() : b.CreateVector(v);
}

offset<flatbuffers::Vector<offset<flatbuffers::String>>> opt_strings(fbb& b, const std::vector<std::string>& v) {
  return v.empty() ? offset<flatbuffers::Vector<offset<flatbuffers::String>>>() : b.CreateVectorOfStrings(v);
}

bytes finish(fbb& b) { return {b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize()}; }

offset<wire::Tensor> build_tensor(fbb& b, const tensor& t) {
  auto name = b.CreateString(t.name);
  auto shape = opt_vector(b, t.shape);
  auto data = opt_vector(b, t.data);
  return wire::CreateTensor(b, name, static_cast<wire::DType>(t.type), shape, data);
}

offset<flatbuffers::Vector<offset<wire::Tensor>>> build_tensors(fbb& b, const std::vector<tensor>& v) {
  if (v.empty()) return {};
  std::vector<offset<wire::Tensor>> out;
  out.reserve(v.size());
  for (const auto& t : v) out.push_back(build_tensor(b, t));
  return b.CreateVector(out);
}

offset<wire::DeviceInfo> build_device(fbb& b, const device_info& d) {
  auto backend = opt_string(b, d.backend);
  auto name = opt_string(b, d.name);
  auto driver = opt_string(b, d.driver);
  auto uuid = opt_vector(b, d.uuid);
  auto group = opt_string(b, d.resource_group);
  auto kernels = opt_strings(b, d.kernels);
  auto versions = opt_vector(b, d.kernel_versions);
  return wire::CreateDeviceInfo(b, backend, name, driver, uuid, static_cast<wire::DeviceType>(d.type), d.vendor_id,
                                d.device_id, d.memory_bytes, d.max_buffer_bytes, d.max_workgroup_size,
                                d.shared_memory_bytes, d.subgroup_size, d.fp16, d.fp64, d.int8, group, kernels,
                                versions);
}

offset<wire::CustomKernel> build_custom(fbb& b, const custom_kernel& c) {
  auto spirv = opt_vector(b, c.spirv);
  auto ocl = opt_string(b, c.opencl_c);
  auto entry = b.CreateString(c.entry);
  auto local = opt_vector(b, c.local_size);
  auto global = opt_vector(b, c.global_size);
  auto key = opt_vector(b, c.code_key_id);
  auto sig = opt_vector(b, c.code_signature);
  return wire::CreateCustomKernel(b, spirv, ocl, entry, local, global, key, sig);
}

offset<flatbuffers::Vector<offset<wire::Param>>> build_params(fbb& b, const std::vector<param>& v) {
  if (v.empty()) return {};
  std::vector<offset<wire::Param>> out;
  out.reserve(v.size());
  for (const auto& p : v) {
    auto name = b.CreateString(p.name);
    out.push_back(wire::CreateParam(b, name, static_cast<wire::DType>(p.type), p.i, p.f));
  }
  return b.CreateVector(out);
}

// A blob vector is aligned for the nested buffer's widest scalar (8 bytes), so readers may access it in place.
template <typename Blob>
offset<flatbuffers::Vector<offset<Blob>>> build_blobs(fbb& b, const std::vector<bytes>& blobs,
                                                      offset<Blob> (*create)(fbb&, offset<flatbuffers::Vector<std::uint8_t>>)) {
  if (blobs.empty()) return {};
  std::vector<offset<Blob>> out;
  out.reserve(blobs.size());
  for (const auto& blob : blobs) {
    b.ForceVectorAlignment(blob.size(), sizeof(std::uint8_t), 8);
    out.push_back(create(b, b.CreateVector(blob)));
  }
  return b.CreateVector(out);
}

offset<wire::TaskBlob> create_task_blob(fbb& b, offset<flatbuffers::Vector<std::uint8_t>> v) {
  return wire::CreateTaskBlob(b, v);
}
offset<wire::ResultBlob> create_result_blob(fbb& b, offset<flatbuffers::Vector<std::uint8_t>> v) {
  return wire::CreateResultBlob(b, v);
}

}  // namespace

bytes build(const agent_hello& m) {
  fbb b(1024);
  auto agent = b.CreateString(m.agent_id);
  auto key = b.CreateVector(m.public_key);
  auto token = opt_string(b, m.enrollment_token);
  auto version = opt_string(b, m.version);
  auto os = opt_string(b, m.os);
  auto arch = opt_string(b, m.arch);
  auto abi = opt_string(b, m.abi);
  offset<flatbuffers::Vector<offset<wire::DeviceInfo>>> devices;
  if (!m.devices.empty()) {
    std::vector<offset<wire::DeviceInfo>> ds;
    for (const auto& d : m.devices) ds.push_back(build_device(b, d));
    devices = b.CreateVector(ds);
  }
  auto reason = opt_string(b, m.paused_reason);
  auto out_of_service = opt_strings(b, m.out_of_service);
  b.Finish(wire::CreateAgentHello(b, agent, key, token, m.session_seq, version, os, arch, abi, devices, m.max_slots,
                                  m.online, static_cast<wire::AgentState>(m.state), reason, m.last_control_seq,
                                  m.spool_bytes, m.sent_at_ms, out_of_service));
  return finish(b);
}

bytes build(const work_request& m) {
  fbb b(256);
  auto agent = b.CreateString(m.agent_id);
  auto request = b.CreateString(m.request_id);
  b.Finish(wire::CreateWorkRequest(b, agent, request, m.free_slots, m.max_tasks, m.max_batch_bytes, m.sent_at_ms));
  return finish(b);
}

bytes build(const task& m) {
  fbb b(1024);
  auto task_id = b.CreateString(m.task_id);
  auto job_id = b.CreateString(m.job_id);
  auto agent = b.CreateString(m.agent_id);
  auto kernel = b.CreateString(m.kernel);
  auto custom = m.custom ? build_custom(b, *m.custom) : offset<wire::CustomKernel>();
  auto params = build_params(b, m.params);
  auto inputs = build_tensors(b, m.inputs);
  auto outputs = build_tensors(b, m.outputs);
  auto hint = opt_string(b, m.backend_hint);
  b.Finish(wire::CreateTask(b, task_id, job_id, m.attempt, agent, kernel, m.kernel_version, custom, params, inputs,
                            outputs, static_cast<wire::Validation>(m.validation), m.rtol, m.atol, m.issued_at_ms,
                            m.expires_at_ms, m.max_runtime_ms, m.min_memory_bytes, hint),
           wire::TaskIdentifier());
  return finish(b);
}

bytes build(const task_batch& m) {
  fbb b(1024);
  auto agent = b.CreateString(m.agent_id);
  auto reply = opt_string(b, m.in_reply_to);
  auto tasks = build_blobs<wire::TaskBlob>(b, m.tasks, create_task_blob);
  b.Finish(wire::CreateTaskBatch(b, agent, reply, tasks, m.retry_after_ms, m.sent_at_ms));
  return finish(b);
}

bytes build(const task_result& m) {
  fbb b(1024);
  auto task_id = b.CreateString(m.task_id);
  auto job_id = opt_string(b, m.job_id);
  auto agent = b.CreateString(m.agent_id);
  auto task_digest = b.CreateVector(m.task_digest);
  auto err = opt_string(b, m.error);
  auto outputs = build_tensors(b, m.outputs);
  auto out_digest = opt_vector(b, m.output_digest);
  auto device = m.device ? build_device(b, *m.device) : offset<wire::DeviceInfo>();
  offset<wire::Timings> tm;
  if (m.timing) {
    const auto& t = *m.timing;
    tm = wire::CreateTimings(b, t.queued_us, t.compile_us, t.upload_us, t.exec_us, t.download_us, t.total_us);
  }
  b.Finish(wire::CreateResult(b, task_id, job_id, m.attempt, agent, task_digest,
                              static_cast<wire::ResultStatus>(m.status), err, outputs, out_digest, device, tm,
                              m.finished_at_ms,
                              m.energy_uj ? flatbuffers::Optional<std::uint64_t>(*m.energy_uj) : flatbuffers::nullopt),
           wire::ResultIdentifier());
  return finish(b);
}

bytes build(const result_batch& m) {
  fbb b(1024);
  auto agent = b.CreateString(m.agent_id);
  auto results = build_blobs<wire::ResultBlob>(b, m.results, create_result_blob);
  b.Finish(wire::CreateResultBatch(b, agent, results, m.sent_at_ms));
  return finish(b);
}

bytes build(const receipt& m) {
  fbb b(512);
  auto agent = b.CreateString(m.agent_id);
  offset<flatbuffers::Vector<offset<wire::ReceiptEntry>>> entries;
  if (!m.entries.empty()) {
    std::vector<offset<wire::ReceiptEntry>> es;
    for (const auto& e : m.entries) {
      auto id = b.CreateString(e.task_id);
      auto digest = opt_vector(b, e.result_digest);
      auto reason = opt_string(b, e.reason);
      es.push_back(wire::CreateReceiptEntry(b, id, e.attempt, digest, e.accepted, reason));
    }
    entries = b.CreateVector(es);
  }
  b.Finish(wire::CreateReceipt(b, agent, entries, m.sent_at_ms));
  return finish(b);
}

bytes build(const control& m) {
  fbb b(256);
  auto agent = opt_string(b, m.agent_id);
  auto cancels = opt_strings(b, m.cancel_task_ids);
  b.Finish(wire::CreateControl(b, agent, m.seq, static_cast<wire::AgentState>(m.desired_state), cancels,
                               m.max_slots, m.sent_at_ms));
  return finish(b);
}

}  // namespace ec::protocol
