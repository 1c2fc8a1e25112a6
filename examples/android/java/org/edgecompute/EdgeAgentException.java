package org.edgecompute;

/**
 * A failed call into the agent: the C API's status (its constant name, e.g. "EDGE_AGENT_ERR_CONFIG") and the
 * library's message for it (edge_agent_last_error), which names the offending config key where there is one.
 */
public final class EdgeAgentException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final int statusCode;
  private final String statusName;
  private final String detail;

  EdgeAgentException(int statusCode, String statusName, String detail) {
    super(statusName + ": " + detail);
    this.statusCode = statusCode;
    this.statusName = statusName;
    this.detail = detail;
  }

  /** The numeric edge_agent_status. */
  public int statusCode() {
    return statusCode;
  }

  /** The status constant's name, e.g. "EDGE_AGENT_ERR_CONFIG". */
  public String statusName() {
    return statusName;
  }

  /** The library's message for the failure (edge_agent_last_error of the failed call). */
  public String detail() {
    return detail;
  }
}
