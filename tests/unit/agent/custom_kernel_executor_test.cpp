// Custom kernels end to end inside the agent, on the real GPU modules (lavapipe and PoCL must be present: a
// missing one fails, never skips): admission of signed code, then the in-process executor and the worker
// processes run it; a never-terminating custom kernel is stopped by the supervisor within twice its deadline,
// and the next task succeeds within 10 s.
#include <bit>
#include <cstring>

#include "../../../agent/src/custom_kernels.hpp"
#include "../../support/custom_kernel_files.hpp"
#include "ec/agent/in_process_executor.hpp"
#include "ec/agent/task_admission.hpp"
#include "ec/protocol/code_signature.hpp"
#include "ec/protocol/mbedtls_signer.hpp"
#include "worker_test_support.hpp"

using namespace worker_test;

namespace {

constexpr std::string_view me = "00112233445566778899aabbccddeeff";
constexpr std::uint64_t n = 256;

protocol::mbedtls_signer make_code_key() {
  auto k = protocol::private_key::generate();
  REQUIRE(k.ok());
  return protocol::mbedtls_signer(std::move(*k));
}

// The real modules in this process (the supervisor's view) and in the workers, sharing device ids.
struct gpu_fixture {
  temp_dir state;
  protocol::mbedtls_signer code_key = make_code_key();
  protocol::static_trust_store trust{protocol::mbedtls_verifier_factory()};
  std::unique_ptr<backends::registry> reg;
  std::unique_ptr<backends::device_selector> sel;
  gpu_fixture() {
    trust.trust(code_key.key(), {protocol::message_kind::code});
    backends::registry_options ro;
    ro.module_dir = EC_MODULE_DIR;
    reg = backends::registry::load(ro);
    backends::selection_options o;
    o.calibrate = false;
    sel = std::make_unique<backends::device_selector>(*reg, o);
    for (const char* backend : {"vulkan", "opencl"}) {
      bool found = false;
      for (const auto* d : sel->devices_in()) found = found || d->info.backend == backend;
      REQUIRE_MESSAGE(found, "no " << backend << " device (lavapipe and PoCL are required)");
    }
  }
  [[nodiscard]] worker_executor_options options() const {
    worker_executor_options o;
    o.binary = EC_AGENT_BINARY;
    o.state_dir = state.path;
    o.module_dir = EC_MODULE_DIR;
    o.memory_limit_mib = 4096;  // lavapipe and PoCL each bring LLVM
    o.idle_priority = false;
    o.backoff_initial = 1ms;
    o.backoff_max = 10ms;
    return o;
  }

  // An unsigned custom task for `backend` running `kernel` (tests/custom_kernels) with the given sizes.
  static protocol::task custom_task(const std::string& id, const std::string& backend, const std::string& kernel,
                                    std::vector<std::uint32_t> local, std::vector<std::uint64_t> global) {
    protocol::task t;
    t.task_id = id;
    t.job_id = "j";
    t.attempt = 1;
    t.agent_id = std::string(me);
    t.kernel = "custom";
    protocol::custom_kernel c;
    if (backend == "vulkan") {
      c.spirv = test::custom_spirv(kernel);
      c.entry = "main";
    } else {
      c.opencl_c = test::custom_opencl(kernel);
      c.entry = kernel;
    }
    c.local_size = std::move(local);
    c.global_size = std::move(global);
    t.custom = std::move(c);
    t.issued_at_ms = 1000;
    t.expires_at_ms = 100'000;
    t.backend_hint = backend;
    return t;
  }

  // A signed custom task for `backend` running `kernel` (tests/custom_kernels), admitted, as a request.
  execution_request request(const std::string& id, const std::string& backend, const std::string& kernel,
                            std::chrono::milliseconds budget) {
    auto t = custom_task(id, backend, kernel, {64}, {n});
    protocol::tensor x{"x", protocol::dtype::f32, {n}, protocol::bytes(n * 4)};
    for (std::uint64_t i = 0; i < n; ++i) {
      const float v = static_cast<float>(i);
      std::memcpy(x.data.data() + 4 * i, &v, 4);
    }
    t.inputs = {std::move(x)};
    if (kernel == "scale") t.params = {{"a", protocol::dtype::f32, 0, 3.0}};
    t.outputs = {protocol::tensor{"y", protocol::dtype::f32, {n}, {}}};
    return admitted(std::move(t), budget);
  }

  // `t` signed by the code key and admitted, as a request.
  execution_request admitted(protocol::task t, std::chrono::milliseconds budget) {
    auto& c = *t.custom;
    auto sig = protocol::sign_code({c.spirv, c.opencl_c, c.entry}, code_key);
    REQUIRE(sig.ok());
    c.code_key_id.assign(code_key.key().id().begin(), code_key.key().id().end());
    c.code_signature.assign(sig->begin(), sig->end());
    const std::string id = t.task_id, backend = t.backend_hint;
    auto blob = std::make_shared<const protocol::bytes>(protocol::build(t));
    const protocol::task_view view(*blob);
    admission_limits limits;
    limits.allow_custom_kernels = true;
    const task_admission admission(*sel, limits, &trust);
    const auto verdict = admission.check(view, me, 2000);
    REQUIRE_MESSAGE(verdict.verdict == admission_verdict::admit, verdict.reason);
    execution_request r;
    r.task_id = id;
    r.custom = custom_call_for(view);
    REQUIRE(r.custom.has_value());
    r.backend_hint = backend;
    r.deadline = backends::clock::now() + budget;
    r.keep_alive = blob;
    return r;
  }
};

void check_scaled(const execution_outcome& o, const std::string& backend) {
  CHECK_MESSAGE(o.status == protocol::result_status::ok, o.error);
  CHECK(o.device.backend == backend);
  REQUIRE(o.outputs.size() == 1);
  REQUIRE(o.outputs[0].data.size() == n * 4);
  for (std::uint64_t i = 0; i < n; i += 37) {
    float v = 0;
    std::memcpy(&v, o.outputs[0].data.data() + 4 * i, 4);
    CHECK(v == 3.0f * static_cast<float>(i));
  }
}

void hang_then_recover(gpu_fixture& f, const std::string& backend, std::chrono::milliseconds budget) {
  collector c;
  worker_process_executor ex(*f.sel, 1, f.options());
  REQUIRE(ex.wait_started(60s));
  const auto submitted = backends::clock::now();
  ex.submit(f.request("spin", backend, "spin", budget), c.for_task("spin"));
  REQUIRE(c.wait_for("spin", 4 * budget + 10s));
  const auto stopped = std::chrono::duration_cast<std::chrono::milliseconds>(c.time_of("spin") - submitted);
  const auto hung = c.outcome("spin");
  CHECK_MESSAGE(hung.status == protocol::result_status::timeout, hung.error);
  CHECK_MESSAGE(stopped <= 2 * budget, backend << ": stopped after " << stopped.count() << " ms");
  // The kernel ran (not a compile that outlasted the budget), and its worker was replaced.
  CHECK(hung.error.find("while building") == std::string::npos);
  CHECK(hung.error.find("while compiling") == std::string::npos);
  CHECK(hung.error.find("the worker was killed and is restarted") != std::string::npos);
  CHECK_MESSAGE(ex.health().at(0).timeouts == 1, ex.health().at(0).last_failure);

  const auto next_at = backends::clock::now();
  ex.submit(f.request("after", backend, "scale", 30s), c.for_task("after"));
  REQUIRE(c.wait_for("after", 10s));
  check_scaled(c.outcome("after"), backend);
  CHECK(c.time_of("after") - next_at <= 10s);
  CHECK(ex.health().at(0).in_service);
}

}  // namespace

TEST_CASE("signed custom kernels run in process on lavapipe and on PoCL with the task's param") {
  gpu_fixture f;
  collector c;
  in_process_executor ex(*f.sel, 1);
  for (const std::string backend : {"vulkan", "opencl"}) {
    ex.submit(f.request(backend, backend, "scale", 60s), c.for_task(backend));
    REQUIRE(c.wait_for(backend, 60s));
    check_scaled(c.outcome(backend), backend);
  }
}

// On lavapipe the "never-terminating" kernel is one that outlasts the deadline by minutes: llvmpipe ends every loop
// nest after 65,535 iterations (see tests/custom_kernels/spin.comp).
TEST_CASE(
    "a never-terminating custom SPIR-V kernel on lavapipe is stopped within twice its deadline and the next task "
    "succeeds within 10 s") {
  gpu_fixture f;
  hang_then_recover(f, "vulkan", 2000ms);
}

TEST_CASE(
    "a never-terminating custom OpenCL kernel on PoCL is stopped within twice its deadline and the next task succeeds "
    "within 10 s") {
  gpu_fixture f;
  hang_then_recover(f, "opencl", 3000ms);
}

TEST_CASE("a 3-D custom kernel and one with u32, f64, u32 and u64 params run through a worker on lavapipe and PoCL") {
  gpu_fixture f;
  collector c;
  worker_process_executor ex(*f.sel, 1, f.options());
  REQUIRE(ex.wait_started(60s));
  for (const std::string backend : {"vulkan", "opencl"}) {
    auto grid = gpu_fixture::custom_task("grid-" + backend, backend, "grid3d", {4, 2, 2}, {8, 6, 4});
    grid.outputs = {protocol::tensor{"y", protocol::dtype::u32, {8 * 6 * 4}, {}}};
    ex.submit(f.admitted(std::move(grid), 60s), c.for_task("grid-" + backend));
    auto params = gpu_fixture::custom_task("params-" + backend, backend, "params64", {1}, {1});
    params.params = {{"a", protocol::dtype::u32, 0xa1a2a3a4, 0},
                     {"b", protocol::dtype::f64, 0, -2.718281828459045},
                     {"c", protocol::dtype::u32, 0xc1c2c3c4, 0},
                     {"d", protocol::dtype::u64, 0x0123456789abcdef, 0}};
    params.outputs = {protocol::tensor{"y", protocol::dtype::u32, {8}, {}}};
    ex.submit(f.admitted(std::move(params), 60s), c.for_task("params-" + backend));

    REQUIRE(c.wait_for("grid-" + backend, 60s));
    const auto grid_out = c.outcome("grid-" + backend);
    CHECK_MESSAGE(grid_out.status == protocol::result_status::ok, grid_out.error);
    CHECK(grid_out.device.backend == backend);
    REQUIRE(grid_out.outputs.size() == 1);
    const auto& g = grid_out.outputs[0].data;
    REQUIRE(g.size() == 8 * 6 * 4 * 4);
    std::size_t wrong = 0;
    for (std::uint32_t i = 0; i < 8 * 6 * 4; ++i) {
      std::uint32_t v = 0;
      std::memcpy(&v, g.data() + 4 * i, 4);
      if (v != i % 8 + 1000 * (i / 8 % 6) + 1000000 * (i / 48)) ++wrong;
    }
    CHECK_MESSAGE(wrong == 0, backend);

    REQUIRE(c.wait_for("params-" + backend, 60s));
    const auto params_out = c.outcome("params-" + backend);
    CHECK_MESSAGE(params_out.status == protocol::result_status::ok, params_out.error);
    REQUIRE(params_out.outputs.size() == 1);
    REQUIRE(params_out.outputs[0].data.size() == 32);
    std::uint32_t w[8];
    std::memcpy(w, params_out.outputs[0].data.data(), 32);
    const auto b = std::bit_cast<std::uint64_t>(-2.718281828459045);
    CHECK(w[0] == 0xa1a2a3a4u);
    CHECK(w[1] == static_cast<std::uint32_t>(b));
    CHECK(w[2] == static_cast<std::uint32_t>(b >> 32));
    CHECK(w[3] == 0xc1c2c3c4u);
    CHECK(w[4] == 0x89abcdefu);
    CHECK(w[5] == 0x01234567u);
  }
}
