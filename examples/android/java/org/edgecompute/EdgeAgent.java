package org.edgecompute;

import java.nio.charset.StandardCharsets;

/**
 * The edge agent inside a Java or Android process, over libedge_agent.so (edge_agent.h) through
 * libedge_agent_jni.so. One agent per process; create it from TOML config text, start it, feed it the device's
 * power, thermal and network state, stop it, and close it. Every failure is an {@link EdgeAgentException} naming
 * the C API's status and the library's message.
 *
 * <p>Methods may be called from any thread. close() waits for calls in flight on other threads; calls begun after
 * close() started throw EDGE_AGENT_ERR_STATE ("closed"). Close the agent explicitly (try-with-resources, or the
 * service's onDestroy): it is not closed by the garbage collector, and keeps running until closed.
 */
public final class EdgeAgent implements AutoCloseable {
  static {
    System.loadLibrary("edge_agent_jni");
  }

  // edge_agent_status values the Java side raises itself.
  private static final int STATUS_STATE = 4;
  private static final int STATUS_IN_CALLBACK = 7;

  private final Callbacks callbacks;
  private final Object lock = new Object();
  private long handle; // the native jni_agent*; 0 once closed
  private int callsInFlight;
  private boolean closing;

  /** Creates the agent with its own key in agent.state_dir; logs at INFO and above go to the listener. */
  public EdgeAgent(String configToml, EdgeAgentListener listener) {
    this(configToml, null, listener, LogLevel.INFO);
  }

  /**
   * Creates the agent. {@code signer} may be null (the agent's own key file in agent.state_dir is used); {@code
   * listener} may be null (no events; logs go to stderr). Nothing is started.
   */
  public EdgeAgent(String configToml, HostSigner signer, EdgeAgentListener listener, LogLevel maxLogLevel) {
    if (configToml != null && configToml.indexOf('\0') >= 0) {
      throw new IllegalArgumentException("the config text contains a NUL character");
    }
    byte[] config = configToml == null ? null : nulTerminated(configToml);
    byte[] publicKey = signer == null ? null : signer.publicKey();
    if (signer != null && publicKey == null) throw new IllegalArgumentException("the signer has no public key");
    callbacks = new Callbacks(listener, signer);
    long[] out = new long[1];
    check(nativeCreate(config, callbacks, publicKey, listener != null, maxLogLevel.ordinal(), out));
    handle = out[0];
  }

  /** The C API version of the loaded library (major * 10000 + minor * 100 + patch). */
  public static int apiVersion() {
    return nativeApiVersion();
  }

  /** The ABI version of the loaded library; this bridge was built for 1. */
  public static int abiVersion() {
    return nativeAbiVersion();
  }

  /** The agent id (hex of the key id; the broker username by default). */
  public String agentId() {
    String[] out = new String[1];
    invoke(h -> nativeAgentId(h, out));
    return out[0];
  }

  /** Discovers devices, opens the journal and connects in the background; returns once started. */
  public void start() {
    invoke(EdgeAgent::nativeStart);
  }

  /** Stops pulling, cancels queued tasks, waits for running ones (agent.drain_timeout_s), disconnects. */
  public void stop() {
    invoke(EdgeAgent::nativeStop);
  }

  /** Stops taking new work; running tasks finish, queued ones wait. */
  public void pause() {
    invoke(EdgeAgent::nativePause);
  }

  /** Undoes pause() (a pause by the aggregator or the owner policy still holds). */
  public void resume() {
    invoke(EdgeAgent::nativeResume);
  }

  /** Feeds the power source; chargePercent in 0..100, or negative when unknown. */
  public void feedPower(boolean onBattery, double chargePercent) {
    invoke(h -> nativeFeedPower(h, onBattery, chargePercent));
  }

  /** Feeds the device's hottest relevant temperature in degrees Celsius. */
  public void feedThermal(double celsius) {
    invoke(h -> nativeFeedThermal(h, celsius));
  }

  /** Feeds whether the current network is metered (cellular). */
  public void feedNetwork(boolean metered) {
    invoke(h -> nativeFeedNetwork(h, metered));
  }

  /** The agent's counters and the host-fed signals. */
  public AgentStats stats() {
    long[] ints = new long[AgentStats.INT_COUNT];
    double[] reals = new double[AgentStats.REAL_COUNT];
    invoke(h -> nativeStats(h, ints, reals));
    return new AgentStats(ints, reals);
  }

  /** The message of the last failed call on the calling thread ("" when it succeeded). */
  public static String lastError() {
    return utf8(nativeLastError());
  }

  /**
   * Stops the agent (with drain) and frees it; afterwards no listener or signer method is called. Idempotent.
   * Throws EDGE_AGENT_ERR_IN_CALLBACK from inside a listener or signer, where it would wait for its own thread.
   */
  @Override
  public void close() {
    if (Callbacks.insideCallback()) {
      throw new EdgeAgentException(STATUS_IN_CALLBACK, nativeStatusName(STATUS_IN_CALLBACK),
                                   "close() from inside a listener or signer would wait for its own thread");
    }
    long h = claimForClose();
    if (h == 0) return;
    int status = nativeDestroy(h);
    synchronized (lock) {
      if (status == 0) handle = 0; // otherwise still alive: the caller may retry
      closing = false;
      lock.notifyAll();
    }
    check(status);
  }

  // Refuses new calls, waits for another close() in progress and for calls in flight on other threads; returns
  // the handle to destroy, or 0 if the agent is closed already. Uninterruptible: the native side is mid-call.
  private long claimForClose() {
    boolean interrupted = false;
    synchronized (lock) {
      try {
        while (closing) interrupted |= waitOnLock();
        if (handle == 0) return 0;
        closing = true;
        while (callsInFlight > 0) interrupted |= waitOnLock();
        return handle;
      } finally {
        if (interrupted) Thread.currentThread().interrupt();
      }
    }
  }

  private boolean waitOnLock() {
    try {
      lock.wait();
      return false;
    } catch (InterruptedException e) {
      return true;
    }
  }

  private interface NativeCall {
    int apply(long handle);
  }

  private void invoke(NativeCall call) {
    if (Callbacks.insideSigner()) {
      // The C API gives the signer no calls at all (docs/c-api.md, threading rules): it runs while the agent
      // publishes, under locks a call could wait for.
      throw new EdgeAgentException(STATUS_IN_CALLBACK, nativeStatusName(STATUS_IN_CALLBACK),
                                   "the host signer may not call the agent");
    }
    long h;
    synchronized (lock) {
      if (handle == 0 || closing) {
        throw new EdgeAgentException(STATUS_STATE, nativeStatusName(STATUS_STATE), "the agent is closed");
      }
      h = handle;
      ++callsInFlight;
    }
    try {
      check(call.apply(h));
    } finally {
      synchronized (lock) {
        if (--callsInFlight == 0) lock.notifyAll();
      }
    }
  }

  private static void check(int status) {
    if (status != 0) throw new EdgeAgentException(status, nativeStatusName(status), lastError());
  }

  private static byte[] nulTerminated(String s) {
    byte[] text = s.getBytes(StandardCharsets.UTF_8);
    byte[] out = new byte[text.length + 1];
    System.arraycopy(text, 0, out, 0, text.length);
    return out;
  }

  // Text from the library arrives as UTF-8 bytes, decoded here: it may hold bytes a peer sent, and NewStringUTF
  // would abort (Android's CheckJNI) on anything that is not modified UTF-8.
  static String utf8(byte[] bytes) {
    return bytes == null ? "" : new String(bytes, StandardCharsets.UTF_8);
  }

  /** What the native side calls, on agent threads; holds the listener and the signer. */
  static final class Callbacks {
    // Per thread, how deep inside listener or signer calls it is (a log line may come inside an event): [0] any
    // callback, [1] the signer.
    private static final ThreadLocal<int[]> depth = ThreadLocal.withInitial(() -> new int[2]);

    private final EdgeAgentListener listener;
    private final HostSigner signer;

    Callbacks(EdgeAgentListener listener, HostSigner signer) {
      this.listener = listener;
      this.signer = signer;
    }

    static boolean insideCallback() {
      return depth.get()[0] > 0;
    }

    static boolean insideSigner() {
      return depth.get()[1] > 0;
    }

    // Called by edge_agent_jni.c (signature "(I[BII[B[BI[B)V").
    void dispatchEvent(int kind, byte[] taskId, int attempt, int resultStatus, byte[] resultStatusName,
                       byte[] digest, int state, byte[] reason) {
      int[] d = depth.get();
      ++d[0];
      try {
        listener.onEvent(new AgentEvent(kind == 1 ? AgentEvent.Kind.RESULT : AgentEvent.Kind.STATE, utf8(taskId),
                                        attempt, resultStatus, utf8(resultStatusName), digest,
                                        AgentState.fromCode(state), utf8(reason)));
      } catch (Throwable t) {
        report("onEvent", t);
      } finally {
        --d[0];
      }
    }

    // Called by edge_agent_jni.c (signature "(I[B[B)V").
    void dispatchLog(int level, byte[] component, byte[] line) {
      int[] d = depth.get();
      ++d[0];
      try {
        listener.onLog(LogLevel.fromCode(level), utf8(component), utf8(line));
      } catch (Throwable t) {
        report("onLog", t);
      } finally {
        --d[0];
      }
    }

    // Called by edge_agent_jni.c (signature "([B)[B"); null fails the signature.
    byte[] sign(byte[] digest) {
      int[] d = depth.get();
      ++d[0];
      ++d[1];
      try {
        return signer.sign(digest);
      } catch (Throwable t) {
        report("sign", t);
        return null;
      } finally {
        --d[1];
        --d[0];
      }
    }

    // A listener's exception must not unwind into the agent's threads; it goes where Android's logcat shows it.
    private static void report(String where, Throwable t) {
      System.err.println("EdgeAgent: the " + where + " callback threw; dropped:");
      t.printStackTrace();
    }
  }

  private static native int nativeCreate(byte[] configUtf8, Callbacks callbacks, byte[] publicKey,
                                         boolean withListener, int maxLogLevel, long[] handleOut);

  private static native int nativeDestroy(long handle);

  private static native int nativeStart(long handle);

  private static native int nativeStop(long handle);

  private static native int nativePause(long handle);

  private static native int nativeResume(long handle);

  private static native int nativeFeedPower(long handle, boolean onBattery, double chargePercent);

  private static native int nativeFeedThermal(long handle, double celsius);

  private static native int nativeFeedNetwork(long handle, boolean metered);

  private static native int nativeStats(long handle, long[] ints, double[] reals);

  private static native int nativeAgentId(long handle, String[] out);

  private static native String nativeStatusName(int status);

  private static native byte[] nativeLastError();

  private static native int nativeApiVersion();

  private static native int nativeAbiVersion();
}
