// Admission of tasks (receiver check 7 after the replay guard): each refusal class with its status and reason.
#include <doctest/doctest.h>

#include "../backends/fake_devices.hpp"
#include "ec/agent/aggregator_clock.hpp"
#include "ec/agent/task_admission.hpp"
#include "ec/protocol/messages.hpp"

using namespace ec;
using namespace ec::agent;
using protocol::result_status;

namespace {

constexpr std::string_view me = "00112233445566778899aabbccddeeff";
constexpr std::uint64_t now_ms = 1'790'000'100'000;

struct fixture {
  std::unique_ptr<backends::registry> reg;
  std::unique_ptr<backends::device_selector> sel;
  fixture() {
    std::vector<std::unique_ptr<test::fake_device>> d;
    d.push_back(std::make_unique<test::fake_device>("dev", protocol::device_type::cpu, false));
    d.back()->info_.memory_bytes = 1 << 20;
    d.back()->info_.max_buffer_bytes = 64 * 1024;
    std::vector<std::unique_ptr<backends::backend>> b;
    b.push_back(std::make_unique<test::fake_backend>(std::move(d)));
    reg = backends::registry::from_backends(std::move(b));
    backends::selection_options o;
    o.calibrate = false;
    sel = std::make_unique<backends::device_selector>(*reg, o);
    REQUIRE(sel->evaluate().ok());
  }
};

protocol::tensor f32(std::string name, std::vector<float> v) {
  protocol::tensor t{std::move(name), protocol::dtype::f32, {v.size()}, protocol::bytes(v.size() * 4)};
  std::memcpy(t.data.data(), v.data(), t.data.size());
  return t;
}

protocol::task saxpy_task(std::size_t n = 4) {
  protocol::task t;
  t.task_id = "t1";
  t.job_id = "j";
  t.attempt = 1;
  t.agent_id = std::string(me);
  t.kernel = "saxpy";
  t.kernel_version = 1;
  t.params = {{"a", protocol::dtype::f32, 0, 2.0}};
  t.inputs = {f32("x", std::vector<float>(n, 1)), f32("y", std::vector<float>(n, 2))};
  t.outputs = {protocol::tensor{"z", protocol::dtype::f32, {n}, {}}};
  t.issued_at_ms = now_ms - 1000;
  t.expires_at_ms = now_ms + 60'000;
  return t;
}

admission_result check(const fixture& f, const protocol::task& t, admission_limits limits = {}) {
  static std::vector<protocol::bytes> keep;  // views point into the blob
  keep.push_back(protocol::build(t));
  task_admission a(*f.sel, limits);
  return a.check(protocol::task_view(keep.back()), me, now_ms);
}

}  // namespace

TEST_CASE("a valid saxpy task is admitted with its bound call and the spool bytes to reserve") {
  fixture f;
  auto r = check(f, saxpy_task());
  REQUIRE(r.verdict == admission_verdict::admit);
  CHECK(r.call.spec->name == "saxpy");
  CHECK(r.output_bytes >= 16);
}

TEST_CASE("a task blob naming another agent is dropped silently") {
  fixture f;
  auto t = saxpy_task();
  t.agent_id = "ffffffffffffffffffffffffffffffff";
  CHECK(check(f, t).verdict == admission_verdict::drop);
}

TEST_CASE("an expired task is answered Expired, judged on the aggregator's clock") {
  fixture f;
  auto t = saxpy_task();
  t.expires_at_ms = now_ms;
  auto r = check(f, t);
  CHECK(r.verdict == admission_verdict::answer);
  CHECK(r.status == result_status::expired);
}

TEST_CASE("a validity window above the limit is Rejected") {
  fixture f;
  auto t = saxpy_task();
  t.issued_at_ms = now_ms - 1000;
  t.expires_at_ms = now_ms + 25ull * 3600 * 1000;
  auto r = check(f, t);
  CHECK(r.status == result_status::rejected);
  CHECK(r.reason.find("validity") != std::string::npos);
}

TEST_CASE("unknown kernels, other kernel versions and custom code are Unsupported") {
  fixture f;
  auto t = saxpy_task();
  t.kernel = "fft";
  CHECK(check(f, t).status == result_status::unsupported);
  t = saxpy_task();
  t.kernel_version = 7;
  CHECK(check(f, t).status == result_status::unsupported);
  t = saxpy_task();
  t.kernel = "custom";
  t.custom = protocol::custom_kernel{{}, "kernel void k() {}", "k", {64}, {64}, protocol::bytes(32, 1), protocol::bytes(64, 2)};
  auto r = check(f, t);
  CHECK(r.status == result_status::unsupported);
  CHECK(r.reason.find("custom") != std::string::npos);
}

TEST_CASE("arguments that break the kernel ABI are Rejected with the kernel's message") {
  fixture f;
  auto t = saxpy_task();
  t.params.clear();
  auto r = check(f, t);
  CHECK(r.status == result_status::rejected);
  CHECK(r.reason.find("'a'") != std::string::npos);
}

TEST_CASE("declared outputs that differ from what the kernel produces are Rejected") {
  fixture f;
  auto t = saxpy_task();
  t.outputs[0].shape = {5};
  auto r = check(f, t);
  CHECK(r.status == result_status::rejected);
  CHECK(r.reason.find("declared output") != std::string::npos);
}

TEST_CASE("outputs that cannot fit one result message are Rejected") {
  fixture f;
  admission_limits small;
  small.max_payload_bytes = 4096 + 100;
  auto r = check(f, saxpy_task(64), small);
  CHECK(r.status == result_status::rejected);
  CHECK(r.reason.find("message cap") != std::string::npos);
}

TEST_CASE("device limits: too much memory or a tensor above the largest buffer are Unsupported") {
  fixture f;
  auto t = saxpy_task();
  t.min_memory_bytes = 2 << 20;
  auto r = check(f, t);
  CHECK(r.status == result_status::unsupported);
  CHECK(r.reason.find("memory") != std::string::npos);
  admission_limits big;
  big.max_payload_bytes = 16 << 20;
  r = check(f, saxpy_task(20000), big);  // 80 KB tensors, the fake device holds 64 KiB
  CHECK(r.status == result_status::unsupported);
  CHECK(r.reason.find("largest buffer") != std::string::npos);
}

TEST_CASE("the aggregator clock follows the least-delayed signed timestamp and starts as the local clock") {
  aggregator_clock c;
  CHECK_FALSE(c.synced());
  CHECK(c.now(1000) == 1000);
  c.observe(50'000, 1000);  // aggregator 49 s ahead, message in flight 0 ms
  c.observe(50'100, 1200);  // 100 ms delay in transit: looks like 48.9 s
  CHECK(c.synced());
  CHECK(c.offset_ms() == 49'000);
  CHECK(c.now(2000) == 51'000);
  for (int i = 0; i < 16; ++i) c.observe(10'000 + static_cast<std::uint64_t>(i), 20'000 + static_cast<std::uint64_t>(i));
  CHECK(c.offset_ms() == -10'000);  // the old samples aged out: the clock stepped
}
