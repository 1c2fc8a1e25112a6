// edge_agent_create / destroy / start / stop: one agent per process, assembled on start and released on stop, so
// that a stopped agent holds no journal lock, no threads and no connection.
#include <atomic>

#include "c_api_guard.hpp"
#include "ec/agent/log.hpp"
#include "ec/protocol/message_views.hpp"
#include "host_signer.hpp"

namespace ec::agent::c_api {
namespace {

// The process's one agent: the only global state of the library besides the process logger it shares.
std::atomic<bool> instance_exists{false};

// True when the TOML text sets agent.executor itself; otherwise the library picks in_process (phone apps cannot
// spawn sandboxed workers). A line-level check is enough: the loader has already accepted the text.
bool names_executor(std::string_view toml) {
  std::size_t at = 0;
  while (at < toml.size()) {
    auto end = toml.find('\n', at);
    if (end == std::string_view::npos) end = toml.size();
    auto line = toml.substr(at, end - at);
    at = end + 1;
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos) continue;
    line = line.substr(first);
    if (line.starts_with("executor") || line.starts_with("agent.executor")) return true;
  }
  return false;
}

edge_agent_state state_of(protocol::agent_state s, bool host_paused) {
  if (s == protocol::agent_state::drain) return EDGE_AGENT_STATE_DRAINING;
  return s == protocol::agent_state::pause || host_paused ? EDGE_AGENT_STATE_PAUSED : EDGE_AGENT_STATE_RUNNING;
}

void post_result(edge_agent& agent, const result_entry& entry, protocol::byte_span blob) {
  owned_event e;
  e.kind = EDGE_AGENT_EVENT_RESULT;
  e.task_id = entry.task_id;
  e.attempt = entry.attempt;
  const auto status = protocol::result_view(blob).status();  // our own blob, built and verified by the runtime
  e.result_status = static_cast<int>(status);
  e.result_status_name = std::string(protocol::to_string(status));
  e.result_digest = entry.result_digest;
  agent.events.post(std::move(e));
}

assembly_options assembly_options_of(edge_agent& agent) {
  assembly_options o;
  o.signer = agent.signer;
  o.host_feed = agent.signals;
  o.on_result_spooled = [&agent](const result_entry& entry, protocol::byte_span blob) {
    post_result(agent, entry, blob);
  };
  o.on_state_applied = [&agent](protocol::agent_state s) {
    bool host_paused;
    {
      std::lock_guard lock(agent.mu);
      host_paused = agent.host_paused;
    }
    post_state(agent, state_of(s, host_paused), "aggregator control");
  };
  return o;
}

// Builds and starts; on failure everything started here is undone and the message is recorded.
edge_agent_status start_locked(edge_agent& agent) {
  install_log_sink(agent);
  agent.events.start();
  auto built = agent_assembly::build(agent.config, assembly_options_of(agent));
  if (built) {
    // A pause set while stopped holds from the first moment: before start() recovers or pulls any task.
    std::lock_guard lock(agent.mu);
    (*built)->runtime().set_host_paused(agent.host_paused);
  }
  auto started = built ? (*built)->start() : result<void>(built.err());
  if (!started) {
    built = result<std::unique_ptr<agent_assembly>>(started.err());  // releases a half-started assembly
    agent.events.stop();
    remove_log_sink();
    return fail_call(status_of(started.err(), EDGE_AGENT_ERR_START), started.err().what());
  }
  edge_agent_state state;
  {
    std::lock_guard lock(agent.mu);
    agent.assembly = std::move(*built);
    state = current_state_locked(agent);
  }
  post_state(agent, state, "started");
  return ok_call();
}

}  // namespace

edge_agent_state current_state_locked(const edge_agent& agent) {
  if (!agent.assembly) return EDGE_AGENT_STATE_STOPPED;
  if (agent.stopping) return EDGE_AGENT_STATE_DRAINING;
  return state_of(agent.assembly->runtime().state(), agent.host_paused);
}

void post_state(edge_agent& agent, edge_agent_state state, std::string reason) {
  owned_event e;
  e.kind = EDGE_AGENT_EVENT_STATE;
  e.state = state;
  e.reason = std::move(reason);
  agent.events.post(std::move(e));
}

namespace {

// Stops and releases the assembly; events queued before are delivered before it returns.
edge_agent_status stop_locked(edge_agent& agent) {
  agent_assembly* running;
  {
    std::lock_guard lock(agent.mu);
    if (!agent.assembly) return ok_call();
    agent.stopping = true;
    running = agent.assembly.get();
  }
  post_state(agent, EDGE_AGENT_STATE_DRAINING, "stopping");
  running->stop(true);  // agent.mu is free: the host may call stats, pause or feed meanwhile
  std::unique_ptr<agent_assembly> taken;
  {
    std::lock_guard lock(agent.mu);
    agent.last_stats = running->runtime().stats();
    taken = std::move(agent.assembly);
    agent.stopping = false;
  }
  taken.reset();
  post_state(agent, EDGE_AGENT_STATE_STOPPED, "stopped");
  agent.events.stop();
  remove_log_sink();
  return ok_call();
}

// Holds the process's one-agent claim; released unless the new agent is handed to the host.
class instance_claim {
 public:
  instance_claim() : held_(!instance_exists.exchange(true)) {}
  ~instance_claim() {
    if (held_ && !kept_) instance_exists = false;
  }
  instance_claim(const instance_claim&) = delete;
  instance_claim& operator=(const instance_claim&) = delete;
  [[nodiscard]] bool held() const { return held_; }
  void keep() { kept_ = true; }

 private:
  bool held_;
  bool kept_ = false;
};

}  // namespace
}  // namespace ec::agent::c_api

using namespace ec::agent;
using namespace ec::agent::c_api;

extern "C" {

edge_agent_status edge_agent_create(const char* config_toml, const edge_agent_signer* signer, edge_agent** out) {
  return guarded([&] {
    edge_agent_status refused;
    if (refused_in_log_callback(refused)) return refused;
    if (!config_toml || !out) return fail_call(EDGE_AGENT_ERR_INVALID_ARGUMENT, "config_toml and out are required");
    *out = nullptr;
    instance_claim claim;
    if (!claim.held())
      return fail_call(EDGE_AGENT_ERR_ALREADY_EXISTS,
                       "an agent already exists in this process (one per process): destroy it first");
    auto agent = std::make_unique<edge_agent>();
    const std::string_view toml(config_toml);
    auto config = load_config(toml, env_map{});  // the host's text only: no environment, no files named by it
    if (!config) return fail_call(EDGE_AGENT_ERR_CONFIG, config.err().what());
    agent->config = std::move(*config);
    if (!names_executor(toml)) agent->config.agent.executor = "in_process";
    std::shared_ptr<const ec::protocol::signer> host;
    if (signer) {
      auto adapted = host_signer::from(*signer);
      if (!adapted) return fail_call(EDGE_AGENT_ERR_SIGNER, adapted.err().what());
      host = std::move(*adapted);
    }
    auto chosen = agent_signer(agent->config, std::move(host));
    if (!chosen) return fail_call(EDGE_AGENT_ERR_START, chosen.err().what());
    agent->signer = std::move(*chosen);
    agent->agent_id = ec::protocol::agent_id_of(agent->signer->key().id());
    claim.keep();
    *out = agent.release();
    return ok_call();
  });
}

edge_agent_status edge_agent_destroy(edge_agent* agent) {
  return guarded([&] {
    edge_agent_status refused;
    if (refused_in_log_callback(refused)) return refused;
    if (!agent) return ok_call();
    if (agent->events.on_delivery_thread())
      return fail_call(EDGE_AGENT_ERR_IN_CALLBACK, "edge_agent_destroy cannot be called from the event callback");
    {
      std::lock_guard lifecycle(agent->lifecycle_mu);
      stop_locked(*agent);
    }
    delete agent;
    instance_exists = false;
    return ok_call();
  });
}

edge_agent_status edge_agent_get_id(const edge_agent* agent, char* buf, size_t capacity) {
  return guarded([&] {
    if (!agent || !buf) return fail_call(EDGE_AGENT_ERR_INVALID_ARGUMENT, "agent and buf are required");
    if (capacity < agent->agent_id.size() + 1)
      return fail_call(EDGE_AGENT_ERR_INVALID_ARGUMENT,
                       "buffer too small: needs " + std::to_string(agent->agent_id.size() + 1) + " bytes");
    agent->agent_id.copy(buf, agent->agent_id.size());
    buf[agent->agent_id.size()] = '\0';
    return ok_call();
  });
}

edge_agent_status edge_agent_start(edge_agent* agent) {
  return guarded([&] {
    edge_agent_status refused;
    if (refused_in_log_callback(refused)) return refused;
    if (!agent) return fail_call(EDGE_AGENT_ERR_INVALID_ARGUMENT, "agent is required");
    if (agent->events.on_delivery_thread())
      return fail_call(EDGE_AGENT_ERR_IN_CALLBACK, "edge_agent_start cannot be called from the event callback");
    std::lock_guard lifecycle(agent->lifecycle_mu);
    {
      std::lock_guard lock(agent->mu);
      if (agent->assembly) return fail_call(EDGE_AGENT_ERR_STATE, "the agent is already started");
    }
    return start_locked(*agent);
  });
}

edge_agent_status edge_agent_stop(edge_agent* agent) {
  return guarded([&] {
    edge_agent_status refused;
    if (refused_in_log_callback(refused)) return refused;
    if (!agent) return fail_call(EDGE_AGENT_ERR_INVALID_ARGUMENT, "agent is required");
    if (agent->events.on_delivery_thread())
      return fail_call(EDGE_AGENT_ERR_IN_CALLBACK,
                       "edge_agent_stop cannot be called from the event callback (it waits for that thread)");
    std::lock_guard lifecycle(agent->lifecycle_mu);
    return stop_locked(*agent);
  });
}

}  // extern "C"
