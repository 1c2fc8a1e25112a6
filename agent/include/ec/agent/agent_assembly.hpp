// One running agent built from a config: identity (or a host's signer), trust, devices, journal, spool, executor,
// MQTT session and runtime, wired in the right order. The daemon (`edge-agent run`) and the embeddable C API both
// run one; neither duplicates the wiring. No signal handlers, no fork: the caller owns the process.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "ec/agent/agent_runtime.hpp"
#include "ec/agent/config.hpp"
#include "ec/agent/executor.hpp"
#include "ec/agent/host_signals.hpp"
#include "ec/agent/journal.hpp"
#include "ec/agent/probe.hpp"
#include "ec/agent/result_spool.hpp"
#include "ec/protocol/signer.hpp"
#include "ec/protocol/trust_store.hpp"
#include "ec/transport/mqtt_session.hpp"

namespace ec::agent {

/// What an assembly is built from beyond the config.
struct assembly_options {
  /// Signs for the agent; null = the key in the state directory (created when missing).
  std::shared_ptr<const protocol::signer> signer;
  /// Host-fed owner signals (the C API's feed); null = none.
  std::shared_ptr<host_signals> host_feed;
  /// Runtime hooks (runtime_parts::on_result_spooled, on_state_applied).
  std::function<void(const result_entry&, protocol::byte_span)> on_result_spooled;
  std::function<void(protocol::agent_state)> on_state_applied;
};

/// A built agent: every part alive for as long as the assembly, the runtime stopped first.
class agent_assembly {
 public:
  /// Builds every part (devices discovered, journal opened and locked); nothing connects until start().
  static result<std::unique_ptr<agent_assembly>> build(const agent_config& config, assembly_options options);
  /// Stops the runtime (without drain) if still running, then releases the parts in reverse order.
  ~agent_assembly();
  agent_assembly(const agent_assembly&) = delete;
  agent_assembly& operator=(const agent_assembly&) = delete;

  /// Starts the runtime on threads the library owns (timer, executor, MQTT); returns at once.
  result<void> start();
  /// Stops pulling; with `drain`, answers queued tasks Cancelled and waits for running ones (drain_timeout_s).
  void stop(bool drain);

  [[nodiscard]] agent_runtime& runtime() { return *runtime_; }
  [[nodiscard]] executor& exec() { return *exec_; }
  [[nodiscard]] const std::string& agent_id() const { return agent_id_; }

 private:
  agent_assembly() = default;

  agent_config config_;
  std::shared_ptr<const protocol::signer> signer_;
  std::unique_ptr<protocol::static_trust_store> trust_;
  probe_report devices_;
  std::unique_ptr<journal> journal_;
  std::unique_ptr<result_spool> spool_;
  std::unique_ptr<executor> exec_;
  std::unique_ptr<transport::mqtt_session> session_;
  std::unique_ptr<agent_runtime> runtime_;
  std::string agent_id_;
  bool running_ = false;
};

/// The agent's signer: the host's when given, else the state directory's key (created when missing).
result<std::shared_ptr<const protocol::signer>> agent_signer(const agent_config& config,
                                                             std::shared_ptr<const protocol::signer> host_signer);

}  // namespace ec::agent
