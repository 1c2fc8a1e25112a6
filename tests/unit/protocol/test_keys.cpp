#include "test_keys.hpp"

#include <cstring>
#include <stdexcept>

#include "ec/protocol/digests.hpp"
#include "ec/protocol/keys.hpp"

namespace ec::test {
namespace {

using namespace ec::protocol;

std::unique_ptr<signer> make_signer() {
  auto key = private_key::generate();
  if (!key) throw std::runtime_error(key.err().what());
  return std::make_unique<mbedtls_signer>(std::move(key).value());
}

tensor f32_tensor(std::string name, std::vector<float> values, std::vector<std::uint64_t> shape) {
  tensor t{std::move(name), dtype::f32, std::move(shape), {}};
  t.data.resize(values.size() * sizeof(float));
  std::memcpy(t.data.data(), values.data(), t.data.size());
  return t;
}

device_info sample_device() {
  device_info d;
  d.backend = "vulkan";
  d.name = "llvmpipe (LLVM 15.0.6, 256 bits)";
  d.driver = "Mesa 22.3.6";
  d.uuid = bytes(16, 0xab);
  d.type = device_type::cpu;
  d.memory_bytes = 1ULL << 33;
  d.max_buffer_bytes = 128ULL << 20;
  d.max_workgroup_size = 1024;
  d.subgroup_size = 8;
  d.fp64 = true;
  d.resource_group = "cpu";
  d.kernels = {"saxpy", "sgemm"};
  d.kernel_versions = {1, 2};
  return d;
}

}  // namespace

const signer& aggregator_signer() {
  static auto s = make_signer();
  return *s;
}
const signer& agent_signer() {
  static auto s = make_signer();
  return *s;
}
const signer& stranger_signer() {
  static auto s = make_signer();
  return *s;
}
std::string agent_id() { return agent_id_of(agent_signer().key().id()); }

const trust_store& agent_trust() {
  static auto t = [] {
    auto s = std::make_unique<static_trust_store>(mbedtls_verifier_factory());
    s->trust_aggregator(aggregator_signer().key());
    return s;
  }();
  return *t;
}

const trust_store& aggregator_trust() {
  static auto t = [] {
    auto s = std::make_unique<static_trust_store>(openssl_verifier_factory());
    s->trust_agent(agent_signer().key());
    return s;
  }();
  return *t;
}

task sample_task(std::string task_id) {
  task t;
  t.task_id = std::move(task_id);
  t.job_id = "job-1";
  t.attempt = 2;
  t.agent_id = agent_id();
  t.kernel = "saxpy";
  t.kernel_version = 1;
  t.params = {{"a", dtype::f32, 0, 2.5}, {"n", dtype::u32, 4, 0.0}};
  t.inputs = {f32_tensor("x", {1, 2, 3, 4}, {4}), f32_tensor("y", {-1, 0.5f, 0, 8}, {4})};
  t.outputs = {tensor{"z", dtype::f32, {4}, {}}};
  t.validation = validation_mode::tolerance;
  t.rtol = 1e-5;
  t.atol = 1e-6;
  t.issued_at_ms = 1'790'000'000'000;
  t.expires_at_ms = t.issued_at_ms + 600'000;
  t.max_runtime_ms = 5000;
  t.min_memory_bytes = 4096;
  t.backend_hint = "vulkan";
  return t;
}

task_result sample_result(std::string task_id) {
  task_result r;
  r.task_id = std::move(task_id);
  r.job_id = "job-1";
  r.attempt = 2;
  r.agent_id = agent_id();
  auto blob = build(sample_task(r.task_id));
  auto td = task_digest(blob);
  r.task_digest.assign(td.begin(), td.end());
  r.status = result_status::ok;
  r.outputs = {f32_tensor("z", {1.5f, 5.5f, 7.5f, 18}, {4})};
  auto od = output_digest({r.outputs[0].ref()});
  r.output_digest.assign(od.begin(), od.end());
  r.device = sample_device();
  r.timing = timings{10, 20, 30, 40, 50, 150};
  r.finished_at_ms = 1'790'000'000'500;
  return r;
}

agent_hello sample_hello() {
  agent_hello h;
  h.agent_id = agent_id();
  h.public_key = agent_signer().key().spki_der();
  h.enrollment_token = "token-abc";
  h.session_seq = 7;
  h.version = "0.1.0";
  h.os = "linux";
  h.arch = "x86_64";
  h.abi = "gnu";
  h.devices = {sample_device()};
  h.max_slots = 2;
  h.online = true;
  h.state = agent_state::pause;
  h.paused_reason = "on battery";
  h.last_control_seq = 3;
  h.spool_bytes = 12345;
  h.sent_at_ms = 1'790'000'000'000;
  return h;
}

work_request sample_work_request() { return {agent_id(), "req-1", 2, 4, 65536, 1'790'000'000'000}; }

task_batch sample_task_batch(std::size_t tasks) {
  task_batch b{agent_id(), "req-1", {}, 0, 1'790'000'000'000};
  for (std::size_t i = 0; i < tasks; ++i) b.tasks.push_back(build(sample_task("t" + std::to_string(i))));
  return b;
}

result_batch sample_result_batch(std::size_t results) {
  result_batch b{agent_id(), {}, 1'790'000'000'000};
  for (std::size_t i = 0; i < results; ++i) b.results.push_back(build(sample_result("t" + std::to_string(i))));
  return b;
}

receipt sample_receipt() {
  return {agent_id(), {{"t0", 2, bytes(32, 1), true, ""}, {"t1", 2, bytes(32, 2), false, "no_lease"}},
          1'790'000'000'000};
}

control sample_control() { return {agent_id(), 4, agent_state::drain, {"t0", "t1"}, 1, 1'790'000'000'000}; }

open_options receiver_options(message_kind kind) {
  open_options o;
  o.expected_kind = kind;
  o.prefix = prefix;
  const bool agent_side = is_agent_bound(kind);
  o.trust = agent_side ? &agent_trust() : &aggregator_trust();
  static const std::string id = agent_id();
  o.topic_agent_id = agent_side ? std::string_view(id) : std::string_view();
  return o;
}

const signer& sender_of(message_kind kind) {
  return is_agent_bound(kind) ? aggregator_signer() : agent_signer();
}

bytes sample_body(message_kind kind) {
  switch (kind) {
    case message_kind::agent_hello: return build(sample_hello());
    case message_kind::work_request: return build(sample_work_request());
    case message_kind::task_batch: return build(sample_task_batch(3));
    case message_kind::result_batch: return build(sample_result_batch(3));
    case message_kind::receipt: return build(sample_receipt());
    case message_kind::control: return build(sample_control());
    default: throw std::invalid_argument("no sample body for this kind");
  }
}

}  // namespace ec::test
