// The host's controls while the agent runs: pause and resume, the owner signals it feeds, and the counters.
#include <cmath>

#include "c_api_guard.hpp"

namespace ec::agent::c_api {
namespace {

edge_agent_status set_host_paused(edge_agent* agent, bool paused) {
  edge_agent_status refused;
  if (refused_in_log_callback(refused)) return refused;
  if (!agent) return fail_call(EDGE_AGENT_ERR_INVALID_ARGUMENT, "agent is required");
  edge_agent_state state;
  bool running;
  {
    std::lock_guard lock(agent->mu);
    if (agent->host_paused == paused) return ok_call();
    agent->host_paused = paused;  // also honoured by the next start while stopped
    // The runtime's third pause source: never calls back into the C API, so agent->mu may be held.
    if (agent->assembly) agent->assembly->runtime().set_host_paused(paused);
    running = agent->assembly != nullptr;
    state = current_state_locked(*agent);
  }
  if (running) post_state(*agent, state, paused ? "host pause" : "host resume");
  return ok_call();
}

void fill_signals(const host_signal_snapshot& s, edge_agent_stats& out) {
  out.power_known = s.on_battery.has_value();
  out.on_battery = s.on_battery.value_or(false);
  out.charge_percent = s.charge_percent.value_or(-1.0);
  out.thermal_known = s.temperature_c.has_value();
  out.temperature_c = s.temperature_c.value_or(0.0);
  out.network_known = s.metered_network.has_value();
  out.metered_network = s.metered_network.value_or(false);
}

void fill_counters(const runtime_stats& s, edge_agent_stats& out) {
  out.tasks_admitted = s.tasks_admitted;
  out.tasks_answered = s.tasks_answered;
  out.results_spooled = s.results_spooled;
  out.batches_published = s.batches_published;
  out.batches_released = s.batches_released;
  out.messages_rejected = s.messages_rejected;
}

}  // namespace
}  // namespace ec::agent::c_api

using namespace ec::agent;
using namespace ec::agent::c_api;

extern "C" {

edge_agent_status edge_agent_pause(edge_agent* agent) {
  return guarded([&] { return set_host_paused(agent, true); });
}

edge_agent_status edge_agent_resume(edge_agent* agent) {
  return guarded([&] { return set_host_paused(agent, false); });
}

edge_agent_status edge_agent_feed_power(edge_agent* agent, int on_battery, double charge_percent) {
  return guarded([&] {
    edge_agent_status refused;
    if (refused_in_log_callback(refused)) return refused;
    if (!agent) return fail_call(EDGE_AGENT_ERR_INVALID_ARGUMENT, "agent is required");
    if (std::isnan(charge_percent) || charge_percent > 100.0)
      return fail_call(EDGE_AGENT_ERR_INVALID_ARGUMENT, "charge_percent must be 0..100, or negative when unknown");
    agent->signals->set_power(on_battery != 0,
                              charge_percent < 0 ? std::nullopt : std::optional<double>(charge_percent));
    return ok_call();
  });
}

edge_agent_status edge_agent_feed_thermal(edge_agent* agent, double celsius) {
  return guarded([&] {
    edge_agent_status refused;
    if (refused_in_log_callback(refused)) return refused;
    if (!agent) return fail_call(EDGE_AGENT_ERR_INVALID_ARGUMENT, "agent is required");
    if (!std::isfinite(celsius) || celsius < -273.15 || celsius > 1000.0)
      return fail_call(EDGE_AGENT_ERR_INVALID_ARGUMENT, "celsius must be a finite temperature");
    agent->signals->set_temperature(celsius);
    return ok_call();
  });
}

edge_agent_status edge_agent_feed_network(edge_agent* agent, int metered) {
  return guarded([&] {
    edge_agent_status refused;
    if (refused_in_log_callback(refused)) return refused;
    if (!agent) return fail_call(EDGE_AGENT_ERR_INVALID_ARGUMENT, "agent is required");
    agent->signals->set_metered(metered != 0);
    return ok_call();
  });
}

edge_agent_status edge_agent_get_stats(edge_agent* agent, edge_agent_stats* stats) {
  return guarded([&] {
    edge_agent_status refused;
    if (refused_in_log_callback(refused)) return refused;
    if (!agent || !stats) return fail_call(EDGE_AGENT_ERR_INVALID_ARGUMENT, "agent and stats are required");
    // A host built against an older, smaller struct: refuse rather than write past its end.
    if (stats->struct_size < sizeof(edge_agent_stats))
      return fail_call(EDGE_AGENT_ERR_INVALID_ARGUMENT, "stats->struct_size is smaller than this library's struct");
    edge_agent_stats out{};
    out.struct_size = sizeof(edge_agent_stats);
    {
      std::lock_guard lock(agent->mu);
      out.state = current_state_locked(*agent);
      fill_counters(agent->assembly ? agent->assembly->runtime().stats() : agent->last_stats, out);
    }
    out.events_delivered = agent->events.delivered();
    fill_signals(agent->signals->snapshot(), out);
    *stats = out;
    return ok_call();
  });
}

}  // extern "C"
