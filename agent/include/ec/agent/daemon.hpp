// `edge-agent run`: assembles identity, trust, devices, journal, spool, executor and MQTT session from the
// config and runs the agent until SIGTERM or SIGINT, then drains.
#pragma once

#include <memory>

#include "ec/agent/config.hpp"
#include "ec/agent/host_signals.hpp"

namespace ec::agent {

/// The state directory a config names (agent.state_dir, else default_state_dir()).
std::filesystem::path state_dir_of(const agent_config& config);
/// Runs the daemon; returns the process exit status (0 after a clean drain). `host_feed`: host-fed owner signals.
int run_daemon(const agent_config& config, std::shared_ptr<host_signals> host_feed = nullptr);
/// `edge-agent status`: journal, spool depth, dead letters, last state, from the state directory (read-only).
int print_status(const agent_config& config);

}  // namespace ec::agent
