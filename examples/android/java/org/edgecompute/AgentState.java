package org.edgecompute;

/** The agent's state as the host sees it; the ordinal is edge_agent_state. */
public enum AgentState {
  /** Created, or stopped. */
  STOPPED,
  /** Started, pulling and running tasks. */
  RUNNING,
  /** Started, paused by the host, the owner policy or the aggregator: no new work. */
  PAUSED,
  /** Told by the aggregator to drain, or stopping. */
  DRAINING;

  static AgentState fromCode(int code) {
    AgentState[] all = values();
    if (code < 0 || code >= all.length) throw new IllegalArgumentException("unknown agent state " + code);
    return all[code];
  }
}
