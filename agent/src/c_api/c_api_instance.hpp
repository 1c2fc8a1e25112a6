// The one agent behind an edge_agent handle: its config, signer, host-fed signals, callbacks, and the assembly
// while started. Shared by the C API's files; not part of the public interface.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "ec/agent/agent_assembly.hpp"
#include "ec/agent/config.hpp"
#include "ec/agent/host_signals.hpp"
#include "edge_agent.h"
#include "event_dispatcher.hpp"

/// The handle's definition (global namespace: the C header declares `struct edge_agent`).
struct edge_agent {
  ec::agent::agent_config config;
  std::shared_ptr<const ec::protocol::signer> signer;  // the host's, or the state directory's key
  std::string agent_id;
  std::shared_ptr<ec::agent::host_signals> signals = std::make_shared<ec::agent::host_signals>();

  edge_agent_log_fn log_fn = nullptr;
  void* log_user = nullptr;
  edge_agent_log_level log_max_level = EDGE_AGENT_LOG_INFO;
  ec::agent::c_api::event_dispatcher events;

  std::mutex lifecycle_mu;  // start, stop and destroy, one at a time (held through a drain)
  std::mutex mu;            // the fields below; never held while waiting for the agent or the host
  std::unique_ptr<ec::agent::agent_assembly> assembly;
  bool host_paused = false;
  bool stopping = false;
  ec::agent::runtime_stats last_stats;  // kept after stop
};

namespace ec::agent::c_api {

/// Records the calling thread's error message and returns the status.
edge_agent_status fail_call(edge_agent_status status, std::string message);
/// Clears the calling thread's error message and returns EDGE_AGENT_OK.
edge_agent_status ok_call();
/// True while the calling thread is inside the host's log callback.
bool in_log_callback();
/// The status for an agent failure, by its error code (configuration, signer, start).
edge_agent_status status_of(const error& e, edge_agent_status otherwise);
/// Queues a state event for the host.
void post_state(edge_agent& agent, edge_agent_state state, std::string reason);
/// The state the host sees now (call with agent.mu held).
edge_agent_state current_state_locked(const edge_agent& agent);
/// Points the process logger at the agent's log callback (or stderr) at the config's level.
void install_log_sink(edge_agent& agent);
/// Gives the logger back its stderr sink.
void remove_log_sink();

}  // namespace ec::agent::c_api
