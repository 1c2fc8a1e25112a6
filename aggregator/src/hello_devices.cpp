// The devices of a hello that matching may use, and the out-of-service groups of a stored hello.
#include "ec/aggregator/hello_devices.hpp"

#include <algorithm>

#include "ec/protocol/envelope.hpp"
#include "ec/protocol/message_views.hpp"

namespace ec::aggregator {

std::vector<protocol::device_info> devices_in_service(const protocol::agent_hello& hello) {
  const auto& out = hello.out_of_service;
  std::vector<protocol::device_info> devices;
  for (const auto& d : hello.devices)
    if (std::find(out.begin(), out.end(), d.resource_group) == out.end()) devices.push_back(d);
  return devices;
}

result<std::vector<std::string>> stored_out_of_service(protocol::byte_span hello_body) {
  // Copied so the body starts 8-byte aligned, as verify_body needs.
  const protocol::bytes body(hello_body.begin(), hello_body.end());
  std::vector<protocol::byte_span> blobs;
  if (auto r = protocol::verify_body(protocol::message_kind::agent_hello, body, blobs); !r)
    return error{r.err().code, "stored hello: " + r.err().message};
  return protocol::agent_hello_view(body).decode().out_of_service;
}

std::string group_list(const std::vector<std::string>& groups) {
  if (groups.empty()) return "none";
  std::string out;
  for (const auto& g : groups) out += (out.empty() ? "" : ",") + g;
  return out;
}

}  // namespace ec::aggregator
