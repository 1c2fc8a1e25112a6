package org.edgecompute;

/** The agent's counters and the host-fed signals as last seen (edge_agent_stats). */
public final class AgentStats {
  // Layout of the arrays the native side fills; kept in step with edge_agent_jni.c.
  static final int INT_COUNT = 13;
  static final int REAL_COUNT = 2;

  private final long[] ints;
  private final double[] reals;

  AgentStats(long[] ints, double[] reals) {
    this.ints = ints.clone();
    this.reals = reals.clone();
  }

  public AgentState state() {
    return AgentState.fromCode((int) ints[0]);
  }

  public long tasksAdmitted() {
    return ints[1];
  }

  /** Tasks answered without running (expired, unsupported, cancelled on drain). */
  public long tasksAnswered() {
    return ints[2];
  }

  public long resultsSpooled() {
    return ints[3];
  }

  public long batchesPublished() {
    return ints[4];
  }

  /** Result batches the aggregator receipted. */
  public long batchesReleased() {
    return ints[5];
  }

  public long messagesRejected() {
    return ints[6];
  }

  public long eventsDelivered() {
    return ints[7];
  }

  /** Whether the host has fed the power source yet. */
  public boolean powerKnown() {
    return ints[8] != 0;
  }

  public boolean onBattery() {
    return ints[9] != 0;
  }

  /** Charge in percent, -1 when not given. */
  public double chargePercent() {
    return reals[0];
  }

  public boolean thermalKnown() {
    return ints[10] != 0;
  }

  public double temperatureCelsius() {
    return reals[1];
  }

  public boolean networkKnown() {
    return ints[11] != 0;
  }

  public boolean meteredNetwork() {
    return ints[12] != 0;
  }

  @Override
  public String toString() {
    return "state=" + state() + " admitted=" + tasksAdmitted() + " answered=" + tasksAnswered()
        + " spooled=" + resultsSpooled() + " published=" + batchesPublished() + " released=" + batchesReleased()
        + " rejected=" + messagesRejected() + " events=" + eventsDelivered();
  }
}
