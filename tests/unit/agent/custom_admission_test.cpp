// Admission of custom kernels: off unless enabled, refused unless signed by a code key, and refused before
// anything is compiled when the declared local size, dispatch or tensors do not fit a device.
#include <doctest/doctest.h>

#include <cstring>

#include "../backends/fake_devices.hpp"
#include "ec/agent/task_admission.hpp"
#include "ec/protocol/code_signature.hpp"
#include "ec/protocol/mbedtls_signer.hpp"

using namespace ec;
using namespace ec::agent;
using protocol::result_status;

namespace {

constexpr std::string_view me = "00112233445566778899aabbccddeeff";
constexpr std::uint64_t now_ms = 1'790'000'100'000;

protocol::mbedtls_signer make_signer() {
  auto k = protocol::private_key::generate();
  REQUIRE(k.ok());
  return protocol::mbedtls_signer(std::move(*k));
}

struct fixture {
  protocol::mbedtls_signer code_key = make_signer();
  protocol::mbedtls_signer stranger = make_signer();
  protocol::static_trust_store trust{protocol::mbedtls_verifier_factory()};
  std::unique_ptr<backends::registry> reg;
  std::unique_ptr<backends::device_selector> sel;
  explicit fixture(std::string backend = "vulkan", bool fp64 = true) {
    trust.trust(code_key.key(), {protocol::message_kind::code});
    std::vector<std::unique_ptr<test::fake_device>> d;
    d.push_back(std::make_unique<test::fake_device>("gpu", protocol::device_type::cpu, false));
    d.back()->info_.backend = std::move(backend);
    d.back()->info_.memory_bytes = 1 << 20;
    d.back()->info_.max_buffer_bytes = 64 * 1024;
    d.back()->info_.max_workgroup_size = 256;
    d.back()->info_.fp64 = fp64;
    std::vector<std::unique_ptr<backends::backend>> b;
    b.push_back(std::make_unique<test::fake_backend>(std::move(d)));
    reg = backends::registry::from_backends(std::move(b));
    backends::selection_options o;
    o.calibrate = false;
    sel = std::make_unique<backends::device_selector>(*reg, o);
    REQUIRE(sel->evaluate().ok());
  }
};

void sign(protocol::custom_kernel& c, const protocol::signer& by) {
  auto sig = protocol::sign_code({c.spirv, c.opencl_c, c.entry}, by);
  REQUIRE(sig.ok());
  c.code_key_id.assign(by.key().id().begin(), by.key().id().end());
  c.code_signature.assign(sig->begin(), sig->end());
}

// A 1-D custom kernel over n floats: y = f(x), local size 64, SPIR-V and OpenCL C both present.
protocol::task custom_task(const protocol::signer& by, std::uint64_t n = 256) {
  protocol::task t;
  t.task_id = "c1";
  t.job_id = "j";
  t.attempt = 1;
  t.agent_id = std::string(me);
  t.kernel = "custom";
  protocol::custom_kernel c;
  c.spirv = {0x03, 0x02, 0x23, 0x07, 0, 0, 1, 0};  // content is the backend's concern; admission checks shape
  c.opencl_c = "__kernel void scale(__global const float* x, __global float* y) { }";
  c.entry = "scale";
  c.local_size = {64};
  c.global_size = {n};
  sign(c, by);
  t.custom = std::move(c);
  t.inputs = {protocol::tensor{"x", protocol::dtype::f32, {n}, protocol::bytes(n * 4)}};
  t.outputs = {protocol::tensor{"y", protocol::dtype::f32, {n}, {}}};
  t.issued_at_ms = now_ms - 1000;
  t.expires_at_ms = now_ms + 60'000;
  return t;
}

admission_result check(const fixture& f, const protocol::task& t, bool enabled = true) {
  static std::vector<protocol::bytes> keep;  // views point into the blob
  keep.push_back(protocol::build(t));
  admission_limits limits;
  limits.allow_custom_kernels = enabled;
  task_admission a(*f.sel, limits, &f.trust);
  return a.check(protocol::task_view(keep.back()), me, now_ms);
}

bool says(const admission_result& r, result_status status, std::string_view text) {
  return r.verdict == admission_verdict::answer && r.status == status && r.reason.find(text) != std::string::npos;
}

}  // namespace

TEST_CASE("a custom task is answered Unsupported when custom kernels are disabled") {
  fixture f;
  auto r = check(f, custom_task(f.code_key), false);
  CHECK_MESSAGE(says(r, result_status::unsupported, "disabled by configuration"), r.reason);
}

TEST_CASE("custom code signed by a key outside trust.code_keys is rejected") {
  fixture f;
  auto r = check(f, custom_task(f.stranger));
  CHECK_MESSAGE(says(r, result_status::rejected, "not in trust.code_keys"), r.reason);
}

TEST_CASE("custom code with a flipped byte after signing is rejected") {
  fixture f;
  for (int part = 0; part < 3; ++part) {
    auto t = custom_task(f.code_key);
    if (part == 0) t.custom->spirv[5] ^= 1;
    if (part == 1) t.custom->opencl_c[3] = 'X';
    if (part == 2) t.custom->entry = "scalf";
    auto r = check(f, t);
    CHECK_MESSAGE(says(r, result_status::rejected, "does not verify"), "part " << part << ": " << r.reason);
  }
}

TEST_CASE("custom code with a zeroed signature and key id is rejected, never run") {
  fixture f;
  auto t = custom_task(f.code_key);
  std::fill(t.custom->code_signature.begin(), t.custom->code_signature.end(), 0);
  std::fill(t.custom->code_key_id.begin(), t.custom->code_key_id.end(), 0);
  CHECK(check(f, t).status == result_status::rejected);
}

TEST_CASE("signed custom code that fits the device is admitted with the spool bytes to reserve") {
  fixture f;
  auto r = check(f, custom_task(f.code_key));
  CHECK_MESSAGE(r.verdict == admission_verdict::admit, r.reason);
  CHECK(r.call.spec == nullptr);  // custom code runs from the task blob (custom_call_for), not a catalogue call
  CHECK(r.output_bytes >= 256 * 4);
}

TEST_CASE("an oversize custom local size is refused before compiling") {
  fixture f;
  auto t = custom_task(f.code_key, 1024);
  t.custom->local_size = {512};
  sign(*t.custom, f.code_key);
  auto r = check(f, t);
  CHECK_MESSAGE(says(r, result_status::unsupported, "512 invocations; gpu allows 256"), r.reason);
  t.custom->local_size = {65536, 65536};  // 2^32 invocations: more than any 32-bit count could hold
  t.custom->global_size = {65536, 65536};
  t.inputs.at(0) = protocol::tensor{"x", protocol::dtype::f32, {4}, protocol::bytes(16)};
  sign(*t.custom, f.code_key);
  r = check(f, t);
  CHECK_MESSAGE(says(r, result_status::unsupported, "invocations; gpu allows 256"), r.reason);
}

TEST_CASE("an oversize custom dispatch is refused on Vulkan before compiling") {
  fixture f;
  auto t = custom_task(f.code_key, 16);
  t.custom->local_size = {1};
  t.custom->global_size = {70000};
  sign(*t.custom, f.code_key);
  auto r = check(f, t);
  CHECK_MESSAGE(says(r, result_status::unsupported, "70000 workgroups"), r.reason);
}

TEST_CASE("an oversize custom tensor is refused before compiling") {
  fixture f;
  auto t = custom_task(f.code_key, 32 * 1024);  // 128 KiB of floats, the device binds 64 KiB
  auto r = check(f, t);
  CHECK_MESSAGE(says(r, result_status::unsupported, "binds at most 65536 bytes"), r.reason);
}

TEST_CASE("custom sizes of mismatched rank, zeros or a global size not a multiple of the local size are rejected") {
  fixture f;
  auto t = custom_task(f.code_key);
  t.custom->global_size = {256, 1};
  auto r = check(f, t);
  CHECK_MESSAGE(says(r, result_status::rejected, "same rank"), r.reason);
  t.custom->global_size = {100};
  r = check(f, t);
  CHECK_MESSAGE(says(r, result_status::rejected, "not a multiple"), r.reason);
  t.custom->global_size = {0};
  r = check(f, t);
  CHECK_MESSAGE(says(r, result_status::rejected, "must not contain 0"), r.reason);
  t.custom->global_size = {256};
  t.custom->entry = "bad name";
  r = check(f, t);
  CHECK_MESSAGE(says(r, result_status::rejected, "identifier"), r.reason);
}

TEST_CASE("custom code for a backend the agent does not have is answered Unsupported") {
  fixture f("opencl");
  auto t = custom_task(f.code_key);
  t.custom->opencl_c.clear();  // SPIR-V only, and the only device is OpenCL
  sign(*t.custom, f.code_key);
  auto r = check(f, t);
  CHECK_MESSAGE(says(r, result_status::unsupported, "no device of a backend the code targets"), r.reason);
}

TEST_CASE("custom sizes of rank 3 are admitted and rank 4 is rejected") {
  fixture f;
  auto t = custom_task(f.code_key, 8 * 6 * 4);
  t.custom->local_size = {4, 2, 2};
  t.custom->global_size = {8, 6, 4};
  sign(*t.custom, f.code_key);
  auto r = check(f, t);
  CHECK_MESSAGE(r.verdict == admission_verdict::admit, r.reason);
  t.custom->local_size = {4, 2, 2, 1};
  t.custom->global_size = {8, 6, 4, 1};
  sign(*t.custom, f.code_key);
  r = check(f, t);
  CHECK_MESSAGE(says(r, result_status::rejected, "same rank, 1, 2 or 3; got [4, 2, 2, 1]"), r.reason);
}

TEST_CASE("an oversize custom z dispatch or z local size is refused before compiling") {
  fixture f;
  auto t = custom_task(f.code_key, 16);
  t.custom->local_size = {1, 1, 1};
  t.custom->global_size = {1, 1, 70000};
  sign(*t.custom, f.code_key);
  auto r = check(f, t);
  CHECK_MESSAGE(says(r, result_status::unsupported, "70000 workgroups in dimension 2"), r.reason);
  t.custom->local_size = {2, 2, 128};  // 512 invocations
  t.custom->global_size = {2, 2, 128};
  sign(*t.custom, f.code_key);
  r = check(f, t);
  CHECK_MESSAGE(says(r, result_status::unsupported, "512 invocations; gpu allows 256"), r.reason);
}

TEST_CASE("u64 and f64 custom params are admitted where the device has fp64, f64 elsewhere is Unsupported") {
  fixture f;
  auto t = custom_task(f.code_key);
  t.params = {{"a", protocol::dtype::u32, 7, 0},
              {"b", protocol::dtype::f64, 0, 1.5},
              {"c", protocol::dtype::u64, std::int64_t{1} << 40, 0}};
  auto r = check(f, t);
  CHECK_MESSAGE(r.verdict == admission_verdict::admit, r.reason);
  fixture no_fp64("vulkan", false);
  auto other = t;
  sign(*other.custom, no_fp64.code_key);  // each fixture trusts its own code key
  r = check(no_fp64, other);
  CHECK_MESSAGE(says(r, result_status::unsupported, "param 'b' is f64; gpu has no 64-bit floats"), r.reason);
  t.params = {{"c", protocol::dtype::u64, -1, 0}};  // the wire's i is signed: a u64 must not be negative
  r = check(f, t);
  CHECK_MESSAGE(says(r, result_status::unsupported, "param 'c' must be u32, i32, u64, f32 or f64"), r.reason);
  t.params = {{"d", protocol::dtype::u8, 1, 0}};
  r = check(f, t);
  CHECK_MESSAGE(says(r, result_status::unsupported, "param 'd' must be"), r.reason);
}
