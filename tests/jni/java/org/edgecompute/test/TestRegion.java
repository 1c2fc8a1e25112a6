package org.edgecompute.test;

/**
 * The C API suite's test region for Java (tests/c_api/c_api_region.h through libec_jni_test_region.so): a real
 * mosquitto on a random loopback port with per-agent passwords, and the test aggregator. close() stops both and
 * removes the region's temp folder.
 */
final class TestRegion implements AutoCloseable {
  static {
    System.loadLibrary("ec_jni_test_region");
  }

  private long handle;

  TestRegion() {
    handle = nativeStart();
    if (handle == 0) throw new IllegalStateException("the test region did not start (see stderr)");
  }

  /** Config text for an agent named {@code name} with its own state folder, plus {@code extra} (may be null). */
  String agentConfig(String name, String password, String extra) {
    String config = nativeAgentConfig(handle, name, password, extra);
    if (config == null) throw new IllegalStateException("no config for agent " + name + " (see stderr)");
    return config;
  }

  /** Registers the agent's broker user and restarts the broker so it reads it. */
  void addAgent(String agentId, String password) {
    if (!nativeAddAgent(handle, agentId, password)) throw new IllegalStateException("addAgent failed");
  }

  boolean waitHello(String agentId, int timeoutMs) {
    return nativeWaitHello(handle, agentId, timeoutMs);
  }

  /** Queues {@code count} small copy tasks named prefix-0.. for the agent. */
  void queueSmallTasks(String agentId, String prefix, int count) {
    if (!nativeQueueSmallTasks(handle, agentId, prefix, count)) throw new IllegalStateException("queue failed");
  }

  /** Waits until at least n results from the agent were accepted (signature and digests checked). */
  boolean waitAccepted(String agentId, long n, int timeoutMs) {
    return nativeWaitAccepted(handle, agentId, n, timeoutMs);
  }

  long refused(String agentId) {
    return nativeRefused(handle, agentId);
  }

  /** The digest the aggregator's receipt names for task_id's accepted result; null if there is none. */
  byte[] resultDigest(String taskId) {
    return nativeResultDigest(handle, taskId);
  }

  /** Whether the aggregator's record of the agent carries exactly this SPKI DER public key. */
  boolean agentKeyIs(String agentId, byte[] spki) {
    return nativeAgentKeyIs(handle, agentId, spki);
  }

  @Override
  public void close() {
    nativeStop(handle);
    handle = 0;
  }

  private static native long nativeStart();

  private static native void nativeStop(long region);

  private static native String nativeAgentConfig(long region, String name, String password, String extra);

  private static native boolean nativeAddAgent(long region, String agentId, String password);

  private static native boolean nativeWaitHello(long region, String agentId, int timeoutMs);

  private static native boolean nativeQueueSmallTasks(long region, String agentId, String prefix, int count);

  private static native boolean nativeWaitAccepted(long region, String agentId, long n, int timeoutMs);

  private static native long nativeRefused(long region, String agentId);

  private static native byte[] nativeResultDigest(long region, String taskId);

  private static native boolean nativeAgentKeyIs(long region, String agentId, byte[] spki);
}
