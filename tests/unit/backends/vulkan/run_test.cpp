// Runs on lavapipe: saxpy against the C++ reference at awkward sizes, every supported catalogue kernel, zero-size
// tensors, limits (oversize tensors, local sizes), deadlines and concurrent callers.
#include <doctest/doctest.h>
#include <sys/mman.h>

#include <bit>
#include <thread>

#include "ec/kernels/catalog.hpp"
#include "vulkan_test_support.hpp"

using namespace ec;
using namespace ec::backends::vulkan;
using namespace ec::backends::vulkan::test;

namespace {

const kernels::kernel_spec& saxpy() {
  const auto* k = kernels::find_kernel("saxpy");
  REQUIRE(k != nullptr);
  return *k;
}

}  // namespace

TEST_CASE("saxpy on lavapipe matches the C++ reference for n = 1, 255, 257 and 1000003") {
  auto& d = lavapipe(shared_backend());
  const auto& k = saxpy();
  for (const std::uint64_t n : {1ull, 255ull, 257ull, 1000003ull}) {
    CAPTURE(n);
    const std::vector<std::uint64_t> dims{n};
    const auto s = k.generate(dims, n, kernels::sample_data::ordinary);
    const auto call = bind(k, s);
    const auto out = run_ok(d, call);
    check_outputs(k, out.outputs, kernels::run_reference(call));
  }
}

TEST_CASE("saxpy on lavapipe gives the known answer, also with adversarial floats") {
  auto& d = lavapipe(shared_backend());
  const auto& k = saxpy();
  const auto s = k.known_answer();
  check_outputs(k, run_ok(d, bind(k, s)).outputs, s.expected);

  const std::vector<std::uint64_t> dims{4099};
  const auto adv = k.generate(dims, 7, kernels::sample_data::adversarial);
  const auto call = bind(k, adv);
  check_outputs(k, run_ok(d, call).outputs, kernels::run_reference(call));
}

TEST_CASE("every catalogue kernel lavapipe supports matches its reference and its known answer") {
  auto& d = lavapipe(shared_backend());
  CHECK(d.supports(saxpy()));
  std::string ran;
  for (const auto* k : kernels::catalog()) {
    CAPTURE(k->name);
    if (!d.supports(*k)) {
      MESSAGE("lavapipe does not support " << k->name);
      continue;
    }
    ran += std::string(ran.empty() ? "" : ", ") + std::string(k->name);
    if (k->known_answer) {
      const auto s = k->known_answer();
      const auto call = bind(*k, s);
      const auto out = run_ok(d, call);
      if (!s.expected.empty()) check_outputs(*k, out.outputs, s.expected);
      check_outputs(*k, out.outputs, kernels::run_reference(call));
    }
    // Small generated input: every dimension 33 (odd, not a multiple of any local size).
    const std::vector<std::uint64_t> dims(k->dims_count, 33);
    const auto s = k->generate(dims, 42, kernels::sample_data::ordinary);
    const auto call = bind(*k, s);
    check_outputs(*k, run_ok(d, call).outputs, kernels::run_reference(call));
  }
  MESSAGE("catalogue kernels checked on lavapipe: " << ran);
}

TEST_CASE("saxpy of 16M elements needs more than 65535 groups: the count is clamped and the grid-stride covers it") {
  auto& d = lavapipe(shared_backend());
  const auto& k = saxpy();
  const std::vector<std::uint64_t> dims{std::uint64_t{1} << 24};
  const auto s = k.generate(dims, 3, kernels::sample_data::ordinary);
  const auto call = bind(k, s);
  REQUIRE(call.groups[0] > d.caps().limits.maxComputeWorkGroupCount[0]);
  backends::run_output out = run_ok(d, call);
  for (int i = 0; i < 2; ++i) out = run_ok(d, call);  // warm: report the third run
  check_outputs(k, out.outputs, kernels::run_reference(call));
  const auto& t = out.timings;
  MESSAGE("saxpy n=16M on lavapipe: upload "
          << t.upload_us << " us, exec " << t.exec_us << " us ("
          << static_cast<double>(call.bytes_moved) / 1e3 / static_cast<double>(t.exec_us) << " GB/s), download "
          << t.download_us << " us");
  CHECK(t.compile_us == 0);  // the pipeline was cached by the first run
  CHECK(t.exec_us > 0);
}

TEST_CASE("zero-size tensors run and give zero-size outputs") {
  auto& d = lavapipe(shared_backend());
  const auto& k = saxpy();
  const std::vector<std::uint64_t> dims{0};
  const auto s = k.generate(dims, 1, kernels::sample_data::ordinary);
  const auto call = bind(k, s);
  const auto out = run_ok(d, call);
  REQUIRE(out.outputs.size() == 1);
  CHECK(out.outputs[0].data.empty());
  CHECK(out.outputs[0].shape == std::vector<std::uint64_t>{0});
}

TEST_CASE("a tensor above maxStorageBufferRange is refused as unsupported before anything is allocated") {
  auto& d = lavapipe(shared_backend());
  const auto& k = saxpy();
  // 128 MiB + 4 bytes per input, reserved but never touched (MAP_NORESERVE): the backend must refuse from the
  // sizes alone, without reading or copying the data.
  const std::uint64_t n = (std::uint64_t{128} << 20) / 4 + 1;
  const std::size_t bytes = n * 4;
  void* x = ::mmap(nullptr, bytes, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  void* y = ::mmap(nullptr, bytes, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  REQUIRE(x != MAP_FAILED);
  REQUIRE(y != MAP_FAILED);
  const std::vector<protocol::tensor_ref> refs = {
      {"x", protocol::dtype::f32, {n}, {static_cast<const std::uint8_t*>(x), bytes}},
      {"y", protocol::dtype::f32, {n}, {static_cast<const std::uint8_t*>(y), bytes}}};
  const std::vector<protocol::param> params = {{"a", protocol::dtype::f32, 0, 2.0}};
  auto call = k.bind(params, refs);
  REQUIRE(call.ok());
  const auto out = d.run(*call, backends::clock::now() + std::chrono::seconds(10));
  REQUIRE_FALSE(out.ok());
  CHECK(out.code() == error_code::unsupported);
  const auto& msg = out.err().message;
  CHECK(msg.find("'x'") != std::string::npos);
  CHECK(msg.find(std::to_string(bytes)) != std::string::npos);
  CHECK(msg.find("134217728") != std::string::npos);
  ::munmap(x, bytes);
  ::munmap(y, bytes);
}

TEST_CASE("a local size above the device limits is refused by supports() and run()") {
  auto& d = lavapipe(shared_backend());
  kernels::kernel_spec big = saxpy();
  big.local = {d.caps().limits.maxComputeWorkGroupInvocations * 2, 1};
  CHECK_FALSE(d.supports(big));
  const auto s = saxpy().known_answer();
  auto call = bind(saxpy(), s);
  call.spec = &big;
  const auto out = d.run(call, backends::clock::now() + std::chrono::seconds(10));
  CHECK(out.code() == error_code::unsupported);
}

TEST_CASE("a deadline already past gives timeout, and the device keeps working after tight deadlines") {
  auto& d = lavapipe(shared_backend());
  const auto& k = saxpy();
  const auto s = k.known_answer();
  const auto call = bind(k, s);
  const auto late = d.run(call, backends::clock::now() - std::chrono::seconds(1));
  CHECK(late.code() == error_code::timeout);

  // A deadline that may pass mid-run: timeout or success are both fine, anything else is not.
  const std::vector<std::uint64_t> dims{std::uint64_t{1} << 22};
  const auto big = k.generate(dims, 5, kernels::sample_data::ordinary);
  const auto big_call = bind(k, big);
  for (const auto us : {100, 1000, 5000}) {
    const auto r = d.run(big_call, backends::clock::now() + std::chrono::microseconds(us));
    CHECK((r.ok() || r.code() == error_code::timeout));
  }
  check_outputs(k, run_ok(d, big_call).outputs, kernels::run_reference(big_call));
}

TEST_CASE("runs from several threads on one device are serialised and all correct") {
  auto& d = lavapipe(shared_backend());
  const auto& k = saxpy();
  std::vector<kernels::sample> samples;
  for (std::uint64_t t = 0; t < 4; ++t) {
    const std::vector<std::uint64_t> dims{10000 + t * 77};
    samples.push_back(k.generate(dims, t, kernels::sample_data::ordinary));
  }
  std::vector<kernels::bound_call> calls;
  for (const auto& s : samples) calls.push_back(bind(k, s));
  std::vector<result<backends::run_output>> results(calls.size(), fail(error_code::ok, ""));
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < calls.size(); ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) results[t] = d.run(calls[t], backends::clock::now() + std::chrono::seconds(60));
    });
  for (auto& t : threads) t.join();
  for (std::size_t t = 0; t < calls.size(); ++t) {
    REQUIRE_MESSAGE(results[t].ok(), results[t].err().what());
    check_outputs(k, results[t]->outputs, kernels::run_reference(calls[t]));
  }
}

TEST_CASE("a dispatch still running at the deadline gives timeout, and the device stays usable") {
  // A backend of its own: its destructor waits for the abandoned dispatch (Vulkan cannot cancel it).
  vulkan_backend b(validated_options());
  auto& d = lavapipe(b);
  const auto* k = kernels::find_kernel("mandelbrot");
  REQUIRE(k != nullptr);
  const std::vector<std::uint64_t> small_dims{19, 7};
  const auto small = k->generate(small_dims, 1, kernels::sample_data::ordinary);
  const auto small_call = bind(*k, small);
  run_ok(d, small_call);  // compile first, so the deadline below is spent on the dispatch

  // Every pixel near the origin is inside the set: 128 x 128 pixels x 65536 iterations = 1G iterations,
  // seconds on 2 cores and still several milliseconds on a 64-core host: far beyond a 5 ms deadline.
  const auto p = [](const char* name, protocol::dtype t, std::int64_t v) { return protocol::param{name, t, v, 0}; };
  kernels::sample slow;
  slow.params = {p("x0", protocol::dtype::i32, 0),          p("y0", protocol::dtype::i32, 0),
                 p("dx", protocol::dtype::i32, 1),          p("dy", protocol::dtype::i32, 1),
                 p("width", protocol::dtype::u32, 128),     p("height", protocol::dtype::u32, 128),
                 p("max_iter", protocol::dtype::u32, 65536)};
  const auto slow_call = bind(*k, slow);
  const auto start = backends::clock::now();
  const auto r = d.run(slow_call, start + std::chrono::milliseconds(5));
  CHECK(r.code() == error_code::timeout);
  CHECK(r.err().message.find("busy") != std::string::npos);                // timed out waiting on the fence, in flight
  CHECK(backends::clock::now() - start < std::chrono::milliseconds(500));  // returned at the deadline, not at the end

  // Queued behind the abandoned dispatch, the next run still completes and is right.
  check_outputs(*k, run_ok(d, small_call).outputs, kernels::run_reference(small_call));
}
