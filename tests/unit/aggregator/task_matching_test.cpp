// Matching: kernels the agent self-tested, memory and buffer limits, replicas never to one principal (nor to an
// agent that already answered), order by priority and deadline, batches that grow with observed throughput.
#include "ec/aggregator/task_matching.hpp"

#include <doctest/doctest.h>

namespace ec::aggregator {
namespace {

protocol::device_info device(std::vector<std::string> kernels, std::uint64_t memory = 1 << 30,
                             std::uint64_t max_buffer = 1 << 28) {
  protocol::device_info d;
  d.name = "dev";
  d.kernels = std::move(kernels);
  d.memory_bytes = memory;
  d.max_buffer_bytes = max_buffer;
  return d;
}

agent_profile agent(std::string id = "a1", std::string principal = "alice") {
  return {std::move(id), std::move(principal), {device({"saxpy", "mandelbrot"})}, true, protocol::agent_state::run};
}

pending_unit unit(std::string id, std::string kernel = "saxpy", std::uint64_t bytes = 1000) {
  pending_unit u;
  u.unit_id = std::move(id);
  u.kernel = std::move(kernel);
  u.task_bytes = bytes;
  u.min_memory_bytes = bytes;
  u.largest_tensor_bytes = bytes;
  return u;
}

protocol::work_request request(std::uint32_t free_slots = 4, std::uint32_t max_tasks = 4,
                               std::uint32_t max_batch_bytes = 0) {
  return {"a1", "r1", free_slots, max_tasks, max_batch_bytes, 0};
}

agent_activity seasoned(double seconds_per_task = 1.0) { return {{seconds_per_task, 5}, 100}; }

TEST_CASE("only units whose kernel a device of the agent lists (self-tested) are matched") {
  const std::vector<pending_unit> units{unit("u0", "sgemm"), unit("u1", "saxpy"), unit("u2", "mandelbrot")};
  CHECK(match_tasks({}, agent(), request(), seasoned(), units) == std::vector<std::size_t>{1, 2});
  CHECK(exclusion_reason(agent(), units[0]) == "device dev does not list kernel 'sgemm'");
  auto old = units[1];
  old.kernel_version = 2;
  auto a = agent();
  a.devices[0].kernel_versions = {1, 1};
  CHECK_FALSE(agent_can_run(a, old));
}

TEST_CASE("memory and the largest buffer must fit one device") {
  auto a = agent();
  a.devices = {device({"saxpy"}, 4096, 2048), device({"saxpy"}, 1 << 20, 1 << 16)};
  auto big = unit("u0", "saxpy", 4000);
  CHECK(agent_can_run(a, big));  // the second device holds it
  a.devices.pop_back();
  CHECK_FALSE(agent_can_run(a, big));
  CHECK(exclusion_reason(a, big) == "device dev buffers hold 2048 bytes, the unit needs 4000");
  big.largest_tensor_bytes = 1000;
  big.min_memory_bytes = 5000;
  CHECK(exclusion_reason(a, big) == "device dev has 4096 bytes of memory, the unit needs 5000");
  // A device that reports no limits (0) is not held to them.
  a.devices = {device({"saxpy"}, 0, 0)};
  CHECK(agent_can_run(a, big));
}

TEST_CASE("replicas of one unit never go to the same principal, nor to an agent that already answered") {
  auto u = unit("u0");
  u.excluded_principals = {"alice"};
  const std::vector<pending_unit> units{u};
  CHECK(match_tasks({}, agent("a2", "alice"), request(), seasoned(), units).empty());
  CHECK(exclusion_reason(agent("a2", "alice"), u) == "principal 'alice' already holds a replica of this unit");
  CHECK(match_tasks({}, agent("b1", "bob"), request(), seasoned(), units) == std::vector<std::size_t>{0});
  u.excluded_agents = {"b1"};
  CHECK(exclusion_reason(agent("b1", "bob"), u) == "agent already returned a result for this unit");
}

TEST_CASE("offline, paused or draining agents get nothing") {
  const std::vector<pending_unit> units{unit("u0")};
  auto a = agent();
  a.online = false;
  CHECK(match_tasks({}, a, request(), seasoned(), units).empty());
  a = agent();
  a.state = protocol::agent_state::drain;
  CHECK(match_tasks({}, a, request(), seasoned(), units).empty());
}

TEST_CASE("units go out by priority, then deadline, then submission order") {
  std::vector<pending_unit> units{unit("u0"), unit("u1"), unit("u2"), unit("u3")};
  units[2].priority = 5;
  units[3].deadline_ms = 1000;
  units[1].deadline_ms = 2000;
  CHECK(match_tasks({}, agent(), request(), seasoned(), units) == std::vector<std::size_t>{2, 3, 1, 0});
  units[0].replicas_wanted = 0;  // a unit wanting nothing now is skipped
  CHECK(match_tasks({}, agent(), request(), seasoned(), units) == std::vector<std::size_t>{2, 3, 1});
}

TEST_CASE("batches start small and grow with results returned, up to free_slots + max_tasks") {
  const matching_config c;
  const auto req = request(2, 6);
  CHECK(batch_size(c, req, {}) == 1);  // never observed
  CHECK(batch_size(c, req, {{1.0, 1}, 1}) == 2);
  CHECK(batch_size(c, req, {{1.0, 2}, 2}) == 4);
  CHECK(batch_size(c, req, {{1.0, 3}, 3}) == 8);
  CHECK(batch_size(c, req, {{1.0, 50}, 50}) == 8);  // free_slots + max_tasks
  CHECK(batch_size(c, request(0, 0), seasoned()) == 0);
}

TEST_CASE("batch size follows observed throughput: a slow agent gets fewer tasks") {
  matching_config c;
  c.target_batch_seconds = 30;
  const auto req = request(16, 64);
  CHECK(batch_size(c, req, seasoned(0.5)) == 60);
  CHECK(batch_size(c, req, seasoned(10.0)) == 3);
  CHECK(batch_size(c, req, seasoned(120.0)) == 1);  // at least one
  std::vector<pending_unit> units;
  for (int i = 0; i < 20; ++i) units.push_back(unit("u" + std::to_string(i)));
  CHECK(match_tasks(c, agent(), req, seasoned(10.0), units).size() == 3);
}

TEST_CASE("a batch stays within max_batch_bytes and the message cap") {
  std::vector<pending_unit> units{unit("u0", "saxpy", 600), unit("u1", "saxpy", 600), unit("u2", "saxpy", 300)};
  CHECK(match_tasks({}, agent(), request(4, 4, 1000), seasoned(), units) == std::vector<std::size_t>{0, 2});
  matching_config c;
  c.max_payload = 8192 + 1300;
  CHECK(match_tasks(c, agent(), request(), seasoned(), units) == std::vector<std::size_t>{0, 1});
}

}  // namespace
}  // namespace ec::aggregator
