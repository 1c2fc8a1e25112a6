// The worker-process executor: results from worker processes, deadlines enforced with SIGKILL, crashes that cost
// one task, restarts with backoff, and groups taken out of service. Uses the test hooks (EC_TEST_HOOKS).
#include "ec/agent/out_of_service.hpp"
#include "ec/protocol/envelope.hpp"
#include "ec/protocol/message_views.hpp"
#include "worker_test_support.hpp"

using namespace worker_test;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool asan_build = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool asan_build = true;
#else
constexpr bool asan_build = false;
#endif
#else
constexpr bool asan_build = false;
#endif

TEST_CASE("worker processes run tasks and return the reference's outputs, copied out of shared memory") {
  fixture f;
  collector c;
  worker_process_executor ex(*f.sel, 2, f.options());
  CHECK(ex.total_slots() == 2);
  REQUIRE(ex.wait_started(30s));
  for (int i = 0; i < 10; ++i) ex.submit(f.request("t" + std::to_string(i)), c.for_task("t" + std::to_string(i)));
  for (int i = 0; i < 10; ++i) {
    const auto id = "t" + std::to_string(i);
    REQUIRE(c.wait_for(id));
    const auto o = c.outcome(id);
    CHECK_MESSAGE(o.status == protocol::result_status::ok, o.error);
    REQUIRE(o.outputs.size() == 1);
    CHECK(o.outputs[0].data == f.s.expected[0].data);
    CHECK(o.device.backend == "cpu");
  }
  CHECK(ex.health().at(0).crashes == 0);
}

TEST_CASE("workers report idle priority, a data-segment limit and their filesystem sandbox") {
  fixture f;
  auto o = f.options();
  o.idle_priority = true;
  worker_process_executor ex(*f.sel, 1, o);
  REQUIRE(ex.wait_started(30s));
  const auto sandbox = ex.health().at(0).sandbox;
  INFO(sandbox);
  CHECK(sandbox.find("priority idle") != std::string::npos);
#ifndef EC_WORKER_TEST_ASAN
  CHECK(sandbox.find("rlimit_data 1024 MiB") != std::string::npos);
#else
  CHECK(sandbox.find("rlimit_data off (sanitizer build)") != std::string::npos);
#endif
}

#ifdef EC_TEST_HOOKS

TEST_CASE("a never-ending CPU kernel is stopped within twice its deadline and the next task succeeds within 10 s") {
  fixture f;
  collector c;
  worker_process_executor ex(*f.sel, 1, f.options());
  REQUIRE(ex.wait_started(30s));
  const auto budget = 500ms;
  const auto submitted = backends::clock::now();
  ex.submit(f.request("ec-test-hang", budget), c.for_task("ec-test-hang"));
  REQUIRE(c.wait_for("ec-test-hang"));
  const auto stopped = std::chrono::duration_cast<std::chrono::milliseconds>(c.time_of("ec-test-hang") - submitted);
  const auto hung = c.outcome("ec-test-hang");
  CHECK(hung.status == protocol::result_status::timeout);
  CHECK_MESSAGE(stopped <= 2 * budget, "stopped after " << stopped.count() << " ms");

  const auto next_at = backends::clock::now();
  ex.submit(f.request("after"), c.for_task("after"));
  REQUIRE(c.wait_for("after", 10s));
  CHECK(c.outcome("after").status == protocol::result_status::ok);
  CHECK(c.time_of("after") - next_at <= 10s);
  const auto h = ex.health().at(0);
  CHECK(h.timeouts == 1);
  CHECK(h.crashes == 0);
  CHECK(h.in_service);
}

TEST_CASE("a segfaulting worker costs one task, answered KernelError naming the signal") {
  fixture f;
  collector c;
  worker_process_executor ex(*f.sel, 1, f.options());
  REQUIRE(ex.wait_started(30s));
  ex.submit(f.request("before"), c.for_task("before"));
  ex.submit(f.request("ec-test-segv"), c.for_task("ec-test-segv"));
  ex.submit(f.request("after-1"), c.for_task("after-1"));
  ex.submit(f.request("after-2"), c.for_task("after-2"));
  for (const char* id : {"before", "ec-test-segv", "after-1", "after-2"}) REQUIRE(c.wait_for(id));
  const auto crashed = c.outcome("ec-test-segv");
  CHECK(crashed.status == protocol::result_status::kernel_error);
  // Under AddressSanitizer the worker's own SEGV handler reports the crash and ends the process itself (abort or
  // exit status 1, per ASAN_OPTIONS): the supervisor then names that instead of signal 11.
  CHECK_MESSAGE(crashed.error.find(asan_build ? "worker died" : "signal 11") != std::string::npos, crashed.error);
  for (const char* id : {"before", "after-1", "after-2"}) CHECK(c.outcome(id).status == protocol::result_status::ok);
  const auto h = ex.health().at(0);
  CHECK(h.crashes == 1);
  CHECK(h.restarts == 1);
  CHECK(h.in_service);
}

TEST_CASE("repeated crashes take the resource group out of service and later tasks are answered at once") {
  fixture f;
  collector c;
  auto o = f.options();
  o.max_crashes = 3;
  worker_process_executor ex(*f.sel, 1, o);
  REQUIRE(ex.wait_started(30s));
  for (int i = 0; i < 3; ++i) {
    const auto id = "ec-test-segv-" + std::to_string(i);
    ex.submit(f.request(id), c.for_task(id));
    REQUIRE(c.wait_for(id));
    CHECK(c.outcome(id).status == protocol::result_status::kernel_error);
  }
  CHECK(ex.out_of_service_groups() == std::vector<std::string>{"cpu"});
  CHECK(ex.total_slots() == 0);
  CHECK(ex.free_slots() == 0);
  ex.submit(f.request("late"), c.for_task("late"));
  REQUIRE(c.wait_for("late", 1s));
  const auto late = c.outcome("late");
  CHECK(late.status == protocol::result_status::kernel_error);
  CHECK(late.error.find("out of service") != std::string::npos);
  CHECK(ex.health().at(0).crashes == 3);
}

TEST_CASE("a resource group out of service after repeated crashes is named in the hello, which omits its devices") {
  fixture f;
  collector c;
  auto o = f.options();
  o.max_crashes = 3;
  worker_process_executor ex(*f.sel, 1, o);
  REQUIRE(ex.wait_started(30s));
  auto hello_now = [&] {
    protocol::agent_hello h;
    h.agent_id = "a1";
    for (const auto* d : f.sel->devices_in()) h.devices.push_back(d->info);
    report_out_of_service(h, ex.out_of_service_groups());
    h.max_slots = ex.total_slots();
    return h;
  };
  const auto before = hello_now();
  CHECK(before.out_of_service.empty());
  REQUIRE_FALSE(before.devices.empty());
  CHECK(before.max_slots == 1);

  for (int i = 0; i < 3; ++i) {
    const auto id = "ec-test-segv-" + std::to_string(i);
    ex.submit(f.request(id), c.for_task(id));
    REQUIRE(c.wait_for(id));
  }
  // What the aggregator reads: the group named, none of its devices (every device here is in "cpu"), no slots.
  const auto body = protocol::build(hello_now());
  std::vector<protocol::byte_span> blobs;
  REQUIRE(protocol::verify_body(protocol::message_kind::agent_hello, body, blobs).ok());
  const auto after = protocol::agent_hello_view(body).decode();
  CHECK(after.out_of_service == std::vector<std::string>{"cpu"});
  CHECK(after.devices.empty());
  CHECK(after.max_slots == 0);
}

#else

TEST_CASE("without test hooks, reserved test task ids run as ordinary tasks") {
  fixture f;
  collector c;
  worker_process_executor ex(*f.sel, 1, f.options());
  for (const char* id : {"ec-test-hang", "ec-test-segv"}) {
    ex.submit(f.request(id, 10s), c.for_task(id));
    REQUIRE(c.wait_for(id));
    CHECK(c.outcome(id).status == protocol::result_status::ok);
  }
}

#endif

#if defined(EC_TEST_VULKAN_MODULE)
TEST_CASE("a worker with no module folder configured loads the GPU modules from the default one, inside its sandbox") {
  // The daemon leaves devices.module_dir empty by default; the worker's Landlock rules must still let it read the
  // registry's default folder, or every GPU device the agent advertised fails its tasks.
  fixture f;
  backends::registry_options ro;
  ro.disabled = {"opencl"};
  ro.backend.cache_dir = f.state.path / "cache";
  auto reg = backends::registry::load(ro);
  REQUIRE(reg != nullptr);
  backends::selection_options so;
  so.calibrate = false;
  backends::device_selector sel(*reg, so);
  REQUIRE(sel.evaluate().ok());
  const backends::device_entry* vulkan = nullptr;
  for (const auto& d : reg->devices())
    if (d.info.backend == "vulkan") vulkan = &d;
  std::string why;
  for (const auto& b : reg->backends()) why += b.name + ": " + (b.available ? "available" : b.why) + "\n";
  REQUIRE_MESSAGE(vulkan != nullptr, "lavapipe must be present (mesa-vulkan-drivers):\n" << why);
  const auto* chosen = sel.choose("saxpy", vulkan->info.resource_group, "vulkan");
  REQUIRE(chosen != nullptr);
  REQUIRE(chosen->info.backend == "vulkan");
  auto o = f.options();
  o.module_dir.clear();
  o.disabled_backends = {"opencl"};
  collector c;
  worker_process_executor ex(sel, 1, o);
  REQUIRE(ex.wait_started(60s));
  auto r = f.request("gpu-default-dir", 60s);
  r.backend_hint = "vulkan";
  ex.submit(std::move(r), c.for_task("gpu-default-dir"));
  REQUIRE(c.wait_for("gpu-default-dir"));
  const auto out = c.outcome("gpu-default-dir");
  CHECK_MESSAGE(out.status == protocol::result_status::ok, out.error);
  CHECK(out.device.backend == "vulkan");
}
#endif
