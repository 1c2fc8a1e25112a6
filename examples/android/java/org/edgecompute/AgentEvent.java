package org.edgecompute;

import java.util.Arrays;

/** One event from the agent: a task's result became durable, or the agent's state changed. */
public final class AgentEvent {
  /** What the event reports. */
  public enum Kind {
    /** A task's result is signed and durable (it is being published). */
    RESULT,
    /** The agent's state changed. */
    STATE
  }

  private final Kind kind;
  private final String taskId;
  private final int attempt;
  private final int resultStatus;
  private final String resultStatusName;
  private final byte[] resultDigest;
  private final AgentState state;
  private final String reason;

  AgentEvent(Kind kind, String taskId, int attempt, int resultStatus, String resultStatusName, byte[] resultDigest,
             AgentState state, String reason) {
    this.kind = kind;
    this.taskId = taskId;
    this.attempt = attempt;
    this.resultStatus = resultStatus;
    this.resultStatusName = resultStatusName;
    this.resultDigest = resultDigest;
    this.state = state;
    this.reason = reason;
  }

  public Kind kind() {
    return kind;
  }

  /** RESULT: the task's id; "" for STATE. */
  public String taskId() {
    return taskId;
  }

  /** RESULT: the task's attempt number. */
  public int attempt() {
    return attempt;
  }

  /** RESULT: the protocol ResultStatus (0 ok, 1 kernel_error, 2 timeout, 3 rejected, ...). */
  public int resultStatus() {
    return resultStatus;
  }

  /** RESULT: the status's name ("ok", "kernel_error", ...); "" for STATE. */
  public String resultStatusName() {
    return resultStatusName;
  }

  /** RESULT: SHA-256 of the signed Result, the digest the aggregator's receipt names (a copy). */
  public byte[] resultDigest() {
    return resultDigest.clone();
  }

  /** STATE: the new state. */
  public AgentState state() {
    return state;
  }

  /** STATE: why ("started", "stopped", "host pause", "host resume", "aggregator control"); "" for RESULT. */
  public String reason() {
    return reason;
  }

  @Override
  public String toString() {
    if (kind == Kind.STATE) return "state " + state + " (" + reason + ")";
    StringBuilder hex = new StringBuilder();
    for (byte b : Arrays.copyOf(resultDigest, 8)) hex.append(String.format("%02x", b & 0xff));
    return "result " + taskId + " attempt " + attempt + ": " + resultStatusName + ", digest " + hex + "...";
  }
}
