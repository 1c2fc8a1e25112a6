// A hello's out-of-service resource groups: their devices get no tasks, and the groups are stored with the hello
// and read back checked (edgectl agents).
#include "ec/aggregator/hello_devices.hpp"

#include "ec/aggregator/task_matching.hpp"
#include "storage_test_support.hpp"

namespace ec::aggregator::test {
namespace {

protocol::device_info device(std::string group, std::vector<std::string> kernels) {
  protocol::device_info d;
  d.name = "dev " + group;
  d.resource_group = std::move(group);
  d.kernels = std::move(kernels);
  d.memory_bytes = 1 << 30;
  d.max_buffer_bytes = 1 << 28;
  return d;
}

protocol::agent_hello hello(std::vector<protocol::device_info> devices, std::vector<std::string> out_of_service) {
  protocol::agent_hello h;
  h.agent_id = "a1";
  h.public_key = bytes_of("spki");
  h.session_seq = 1;
  h.devices = std::move(devices);
  h.max_slots = 2;
  h.out_of_service = std::move(out_of_service);
  return h;
}

pending_unit unit(std::string id, std::string kernel) {
  pending_unit u;
  u.unit_id = std::move(id);
  u.kernel = std::move(kernel);
  u.task_bytes = u.min_memory_bytes = u.largest_tensor_bytes = 1000;
  return u;
}

std::vector<std::size_t> matched(const protocol::agent_hello& h) {
  agent_profile a;
  a.agent_id = "a1";
  a.principal = "alice";
  a.devices = devices_in_service(h);
  const std::vector<pending_unit> units{unit("u0", "saxpy"), unit("u1", "sgemm")};
  return match_tasks({}, a, {"a1", "r1", 4, 4, 0, 0}, {{1.0, 5}, 100}, units);
}

}  // namespace

TEST_CASE("devices of a resource group the hello names out of service get no tasks, even when it lists them") {
  // As an agent sends it: the GPU group is out of service and its device left out.
  auto h = hello({device("cpu", {"saxpy"})}, {"gpu-ab"});
  CHECK(matched(h) == std::vector<std::size_t>{0});

  // A hello that still lists the device: the aggregator drops it all the same.
  h.devices.push_back(device("gpu-ab", {"saxpy", "sgemm"}));
  CHECK(devices_in_service(h).size() == 1);
  CHECK(matched(h) == std::vector<std::size_t>{0});

  // Back in service, the group's kernel is matched again.
  h.out_of_service.clear();
  CHECK(matched(h) == std::vector<std::size_t>{0, 1});
}

TEST_CASE("a hello's out-of-service groups are stored with it and read back checked") {
  temp_dir dir;
  auto db = open_db(dir.db());
  const auto agent = admit(*db, "a", "alice");
  CHECK_FALSE(must(db->last_hello(agent)).has_value());

  must(db->record_hello(agent, 1, true, build(hello({device("cpu", {"saxpy"})}, {"gpu-ab", "gpu-cd"})), 1000));
  const auto stored = must(db->last_hello(agent));
  REQUIRE(stored.has_value());
  CHECK(must(stored_out_of_service(*stored)) == std::vector<std::string>{"gpu-ab", "gpu-cd"});
  CHECK(group_list(must(stored_out_of_service(*stored))) == "gpu-ab,gpu-cd");

  must(db->record_hello(agent, 2, true, build(hello({device("cpu", {"saxpy"})}, {})), 2000));
  CHECK(group_list(must(stored_out_of_service(*must(db->last_hello(agent))))) == "none");

  // A row edited into something that is no hello is reported, never decoded.
  must(db->record_hello(agent, 3, true, bytes_of("not a hello, just some bytes"), 3000));
  const auto bad = stored_out_of_service(*must(db->last_hello(agent)));
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.err().message.find("stored hello") != std::string::npos);
}

}  // namespace ec::aggregator::test
