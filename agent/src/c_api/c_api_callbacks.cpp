// The host's callbacks: the log sink that routes the process logger to the host, and the event callback.
#include "c_api_guard.hpp"
#include "ec/agent/log.hpp"

namespace ec::agent::c_api {
namespace {

thread_local bool inside_log_callback = false;

edge_agent_log_level host_level(log_level level) { return static_cast<edge_agent_log_level>(level); }

}  // namespace

bool in_log_callback() { return inside_log_callback; }

void install_log_sink(edge_agent& agent) {
  auto& logger = default_logger();
  logger.set_remote_rate(agent.config.log.rate_limit_per_s);
  if (!agent.log_fn) {
    if (auto level = parse_log_level(agent.config.log.level)) logger.set_level(*level);
    logger.set_sink(stderr_sink());
    return;
  }
  logger.set_level(static_cast<log_level>(agent.log_max_level));
  logger.set_sink([fn = agent.log_fn, user = agent.log_user](const log_record& r) {
    const std::string component(r.component), line(r.line);  // NUL-terminated copies for C
    inside_log_callback = true;
    fn(user, host_level(r.level), component.c_str(), line.c_str());
    inside_log_callback = false;
  });
}

void remove_log_sink() { default_logger().set_sink(stderr_sink()); }

}  // namespace ec::agent::c_api

using namespace ec::agent::c_api;

extern "C" {

edge_agent_status edge_agent_set_log_callback(edge_agent* agent, edge_agent_log_fn fn, void* user,
                                              edge_agent_log_level max_level) {
  return guarded([&] {
    edge_agent_status refused;
    if (refused_in_log_callback(refused)) return refused;
    if (!agent) return fail_call(EDGE_AGENT_ERR_INVALID_ARGUMENT, "agent is required");
    if (max_level < EDGE_AGENT_LOG_ERROR || max_level > EDGE_AGENT_LOG_DEBUG)
      return fail_call(EDGE_AGENT_ERR_INVALID_ARGUMENT, "max_level is not an edge_agent_log_level");
    std::lock_guard lock(agent->mu);
    if (agent->assembly) return fail_call(EDGE_AGENT_ERR_STATE, "set the log callback while the agent is stopped");
    agent->log_fn = fn;
    agent->log_user = user;
    agent->log_max_level = max_level;
    return ok_call();
  });
}

edge_agent_status edge_agent_set_event_callback(edge_agent* agent, edge_agent_event_fn fn, void* user) {
  return guarded([&] {
    edge_agent_status refused;
    if (refused_in_log_callback(refused)) return refused;
    if (!agent) return fail_call(EDGE_AGENT_ERR_INVALID_ARGUMENT, "agent is required");
    std::lock_guard lock(agent->mu);
    if (agent->assembly) return fail_call(EDGE_AGENT_ERR_STATE, "set the event callback while the agent is stopped");
    agent->events.set_callback(fn, user);
    return ok_call();
  });
}

}  // extern "C"
