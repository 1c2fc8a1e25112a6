// The in-process executor: results for every task, cancellation and drain answer Cancelled, pause holds tasks.
#include <doctest/doctest.h>

#include <condition_variable>
#include <mutex>

#include "../backends/fake_devices.hpp"
#include "ec/agent/in_process_executor.hpp"
#include "ec/kernels/catalog.hpp"

using namespace ec;
using namespace ec::agent;

namespace {

struct collector {
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::pair<std::string, execution_outcome>> got;
  executor::completion for_task(std::string id) {
    return [this, id](execution_outcome o) {
      std::lock_guard lock(m);
      got.emplace_back(id, std::move(o));
      cv.notify_all();
    };
  }
  bool wait_for(std::size_t n) {
    std::unique_lock lock(m);
    return cv.wait_for(lock, std::chrono::seconds(30), [&] { return got.size() >= n; });
  }
};

struct fixture {
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
  execution_request request(std::string id) {
    execution_request r;
    r.task_id = std::move(id);
    r.call = *kernels::find_kernel("saxpy")->bind(s.params, refs);
    r.deadline = backends::clock::now() + std::chrono::seconds(30);
    return r;
  }
};

}  // namespace

TEST_CASE("every submitted task gets exactly one outcome with outputs and the device that ran it") {
  fixture f;
  collector c;
  {
    in_process_executor ex(*f.sel, 2);
    CHECK(ex.total_slots() == 2);
    for (int i = 0; i < 20; ++i) ex.submit(f.request("t" + std::to_string(i)), c.for_task("t" + std::to_string(i)));
    REQUIRE(c.wait_for(20));
  }
  CHECK(c.got.size() == 20);
  for (auto& [id, o] : c.got) {
    CHECK(o.status == protocol::result_status::ok);
    CHECK(o.outputs.size() == 1);
    CHECK(o.device.backend == "cpu");
  }
}

TEST_CASE("paused executors hold tasks, cancel and drain answer queued tasks Cancelled") {
  fixture f;
  collector c;
  in_process_executor ex(*f.sel, 1);
  ex.set_paused(true);
  ex.submit(f.request("a"), c.for_task("a"));
  ex.submit(f.request("b"), c.for_task("b"));
  ex.submit(f.request("c"), c.for_task("c"));
  CHECK(ex.queued() == 3);
  ex.cancel("b");
  REQUIRE(c.wait_for(1));
  CHECK(c.got[0].first == "b");
  CHECK(c.got[0].second.status == protocol::result_status::cancelled);
  ex.drain();
  REQUIRE(c.wait_for(3));
  CHECK(ex.queued() == 0);
  for (auto& [id, o] : c.got) CHECK(o.status == protocol::result_status::cancelled);
}

TEST_CASE("a task past its deadline is answered Timeout") {
  fixture f;
  collector c;
  in_process_executor ex(*f.sel, 1);
  auto r = f.request("late");
  r.deadline = backends::clock::now() - std::chrono::milliseconds(1);
  ex.submit(std::move(r), c.for_task("late"));
  REQUIRE(c.wait_for(1));
  CHECK(c.got[0].second.status == protocol::result_status::timeout);
}
