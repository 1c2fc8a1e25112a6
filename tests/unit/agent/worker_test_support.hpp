// Shared by the worker_*_test.cpp files: a CPU-only selector, saxpy requests, and a collector that waits on a
// condition variable (never a sleep) for outcomes.
#pragma once

#include <doctest/doctest.h>

#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>

#include "ec/agent/worker_process_executor.hpp"
#include "ec/kernels/catalog.hpp"

// Sanitizer builds skip RLIMIT_DATA (ASan reserves terabytes of address space): tests expect that instead.
#if defined(__SANITIZE_ADDRESS__)
#define EC_WORKER_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EC_WORKER_TEST_ASAN 1
#endif
#endif

namespace worker_test {

using namespace ec;
using namespace ec::agent;
using namespace std::chrono_literals;

/// Outcomes by task id, with the time each arrived.
struct collector {
  std::mutex m;
  std::condition_variable cv;
  std::map<std::string, execution_outcome> got;
  std::map<std::string, backends::clock::time_point> at;
  executor::completion for_task(std::string id) {
    return [this, id](execution_outcome o) {
      std::lock_guard lock(m);
      got[id] = std::move(o);
      at[id] = backends::clock::now();
      cv.notify_all();
    };
  }
  bool wait_for(const std::string& id, std::chrono::milliseconds timeout = 30s) {
    std::unique_lock lock(m);
    return cv.wait_for(lock, timeout, [&] { return got.count(id) > 0; });
  }
  backends::clock::time_point time_of(const std::string& id) {
    std::lock_guard lock(m);
    return at.at(id);
  }
  execution_outcome outcome(const std::string& id) {
    std::lock_guard lock(m);
    return got.at(id);
  }
};

/// A temporary state directory, removed at the end.
struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() / ("ec-worker-test-" + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

/// The CPU backend alone, as the workers load it (`--disable vulkan --disable opencl`).
struct fixture {
  temp_dir state;
  std::unique_ptr<backends::registry> reg;
  std::unique_ptr<backends::device_selector> sel;
  kernels::sample s = kernels::find_kernel("saxpy")->known_answer();
  std::vector<protocol::tensor_ref> refs;
  fixture() {
    reg = backends::registry::from_backends([] {
      std::vector<std::unique_ptr<backends::backend>> b;
      b.push_back(backends::make_cpu_backend({}));
      return b;
    }());
    backends::selection_options o;
    o.calibrate = false;
    sel = std::make_unique<backends::device_selector>(*reg, o);
    REQUIRE(sel->evaluate().ok());
    for (const auto& t : s.inputs) refs.push_back(t.ref());
  }
  [[nodiscard]] worker_executor_options options() const {
    worker_executor_options o;
    o.binary = EC_AGENT_BINARY;
    o.state_dir = state.path;
    o.module_dir = EC_MODULE_DIR;
    o.disabled_backends = {"vulkan", "opencl"};
    o.memory_limit_mib = 1024;
    // SCHED_IDLE starves under a loaded CI machine; one test checks the idle priority on its own.
    o.idle_priority = false;
    o.backoff_initial = 1ms;
    o.backoff_max = 10ms;
    return o;
  }
  execution_request request(std::string id, std::chrono::milliseconds budget = 30s) {
    execution_request r;
    r.task_id = std::move(id);
    r.call = *kernels::find_kernel("saxpy")->bind(s.params, refs);
    r.deadline = backends::clock::now() + budget;
    return r;
  }
};

}  // namespace worker_test
