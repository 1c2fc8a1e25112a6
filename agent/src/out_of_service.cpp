// Resource groups out of service in the hello (see out_of_service.hpp).
#include "ec/agent/out_of_service.hpp"

#include <algorithm>

#include "ec/protocol/limits.hpp"

namespace ec::agent {

void report_out_of_service(protocol::agent_hello& hello, std::vector<std::string> groups) {
  std::sort(groups.begin(), groups.end());
  groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
  auto& devices = hello.devices;
  devices.erase(std::remove_if(devices.begin(), devices.end(),
                               [&](const protocol::device_info& d) {
                                 return std::binary_search(groups.begin(), groups.end(), d.resource_group);
                               }),
                devices.end());
  // The receiver refuses a hello beyond the bounds (receiver check 5): a name that does not fit is left unnamed,
  // its devices are still left out, so the aggregator sends them nothing either way.
  hello.out_of_service.clear();
  for (auto& g : groups) {
    if (hello.out_of_service.size() == protocol::max_out_of_service_groups) break;
    if (g.size() <= protocol::max_resource_group_name) hello.out_of_service.push_back(std::move(g));
  }
}

std::string group_list(std::vector<std::string> groups) {
  if (groups.empty()) return "none";
  std::sort(groups.begin(), groups.end());
  std::string out;
  for (const auto& g : groups) out += (out.empty() ? "" : ",") + g;
  return out;
}

}  // namespace ec::agent
