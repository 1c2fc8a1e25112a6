#include "ec/protocol/topics.hpp"

#include <algorithm>

namespace ec::protocol {

bool is_valid_region(std::string_view region) {
  return !region.empty() && region.size() <= 32 && std::all_of(region.begin(), region.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

bool is_valid_agent_id(std::string_view agent_id) {
  return agent_id.size() == 32 && std::all_of(agent_id.begin(), agent_id.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

result<topics> topics::for_region(std::string_view region) {
  if (!is_valid_region(region))
    return fail(error_code::invalid_argument, "region must match [a-z0-9-]{1,32}: '" + std::string(region) + "'");
  return topics("ec/v1/" + std::string(region));
}

std::string topics::agent_topic(std::string_view agent_id, std::string_view leaf) const {
  std::string t = prefix_;
  t.append("/agents/").append(agent_id).append("/").append(leaf);
  return t;
}

std::string topics::hello(std::string_view id) const { return agent_topic(id, "hello"); }
std::string topics::tasks(std::string_view id) const { return agent_topic(id, "tasks"); }
std::string topics::receipts(std::string_view id) const { return agent_topic(id, "receipts"); }
std::string topics::control(std::string_view id) const { return agent_topic(id, "control"); }
std::string topics::work() const { return prefix_ + "/work"; }
std::string topics::results() const { return prefix_ + "/results"; }
std::string topics::region_control() const { return prefix_ + "/control"; }
std::string topics::shared_work() const { return "$share/aggregators/" + work(); }
std::string topics::shared_results() const { return "$share/aggregators/" + results(); }
std::string topics::all_hellos() const { return prefix_ + "/agents/+/hello"; }

}  // namespace ec::protocol
