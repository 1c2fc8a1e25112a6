// The hello's report of resource groups out of service: named, sorted, within the protocol's bounds, and their
// devices left out while the other groups' stay.
#include "ec/agent/out_of_service.hpp"

#include <doctest/doctest.h>

#include <algorithm>

#include "ec/protocol/envelope.hpp"
#include "ec/protocol/limits.hpp"

using namespace ec;
using namespace ec::agent;

namespace {

protocol::device_info device(std::string group) {
  protocol::device_info d;
  d.name = "dev " + group;
  d.resource_group = std::move(group);
  d.kernels = {"saxpy"};
  return d;
}

std::vector<std::string> groups_of(const protocol::agent_hello& h) {
  std::vector<std::string> out;
  for (const auto& d : h.devices) out.push_back(d.resource_group);
  return out;
}

}  // namespace

TEST_CASE("the hello names the groups out of service, sorted once each, and leaves out only their devices") {
  protocol::agent_hello h;
  h.devices = {device("cpu"), device("gpu-b"), device("gpu-a"), device("gpu-b")};
  report_out_of_service(h, {"gpu-b", "gpu-a", "gpu-b"});
  CHECK(h.out_of_service == std::vector<std::string>{"gpu-a", "gpu-b"});
  CHECK(groups_of(h) == std::vector<std::string>{"cpu"});

  protocol::agent_hello none;
  none.devices = {device("cpu")};
  report_out_of_service(none, {});
  CHECK(none.out_of_service.empty());
  CHECK(groups_of(none) == std::vector<std::string>{"cpu"});
}

TEST_CASE("groups beyond the protocol's bounds leave their devices out but stay unnamed, so the hello is accepted") {
  protocol::agent_hello h;
  h.agent_id = "a1";
  const std::string long_name(protocol::max_resource_group_name + 1, 'x');
  std::vector<std::string> groups{long_name};
  for (std::size_t i = 0; i < protocol::max_out_of_service_groups + 6; ++i)
    groups.push_back("g" + std::to_string(100 + i));
  h.devices = {device(long_name), device("g100"), device("cpu")};
  report_out_of_service(h, groups);
  CHECK(groups_of(h) == std::vector<std::string>{"cpu"});
  CHECK(h.out_of_service.size() == protocol::max_out_of_service_groups);
  CHECK(std::find(h.out_of_service.begin(), h.out_of_service.end(), long_name) == h.out_of_service.end());
  std::vector<protocol::byte_span> blobs;
  const auto body = protocol::build(h);
  const auto checked = protocol::verify_body(protocol::message_kind::agent_hello, body, blobs);
  CHECK_MESSAGE(checked.ok(), checked.err().what());
}

TEST_CASE("group lists for the log and the status file are sorted and say none when empty") {
  CHECK(group_list({}) == "none");
  CHECK(group_list({"gpu-b", "cpu"}) == "cpu,gpu-b");
}
