package org.edgecompute;

/**
 * Receives the agent's events and log lines.
 *
 * <p>Threads: {@link #onEvent} runs on one thread the library owns, one event at a time, in order; from it every
 * EdgeAgent method may be called except start, stop and close (they would wait for this very thread and throw
 * EDGE_AGENT_ERR_IN_CALLBACK instead: post them to another thread). {@link #onLog} runs on whichever thread logs,
 * under the logger's lock: it must not call the agent at all (every call throws EDGE_AGENT_ERR_IN_CALLBACK) and
 * should return quickly. Nothing is called after stop() or close() has returned. An exception thrown by a listener
 * method is printed and dropped: it never unwinds into the agent.
 */
public interface EdgeAgentListener {
  /** A result became durable, or the state changed. */
  void onEvent(AgentEvent event);

  /** One formatted log line (no newline), at or above the level given to the agent. */
  default void onLog(LogLevel level, String component, String line) {}
}
