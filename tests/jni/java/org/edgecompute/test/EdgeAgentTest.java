package org.edgecompute.test;

import java.lang.reflect.Method;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.edgecompute.AgentEvent;
import org.edgecompute.AgentState;
import org.edgecompute.AgentStats;
import org.edgecompute.EdgeAgent;
import org.edgecompute.EdgeAgentException;
import org.edgecompute.EdgeAgentListener;
import org.edgecompute.HostSigner;
import org.edgecompute.LogLevel;

/**
 * The JNI bridge on the host JVM: an agent in this process, through org.edgecompute.EdgeAgent, against a real
 * mosquitto and the test aggregator. A plain main with explicit checks (no JUnit: nothing to install); each case
 * prints its name, the first failed check ends the run with exit status 1, and the region is stopped either way.
 */
public final class EdgeAgentTest {
  private static final int READY_MS = 30000;
  private static final int RESULT_MS = 30000;

  private final TestRegion region;

  private EdgeAgentTest(TestRegion region) {
    this.region = region;
  }

  public static void main(String[] args) {
    long began = System.nanoTime();
    try {
      timed("versions match the bridge", EdgeAgentTest::versionsMatchTheBridge);
      timed("bad input is a clear exception, and null handles do not crash",
            EdgeAgentTest::badInputIsAClearExceptionAndNoCrash);
      TestRegion[] started = new TestRegion[1];
      timed("the test region starts (mosquitto, aggregator)", () -> started[0] = new TestRegion());
      try (TestRegion region = started[0]) {
        EdgeAgentTest t = new EdgeAgentTest(region);
        timed("a host-signed agent runs tasks, pauses, resumes and reports each result",
              t::hostSignedAgentRunsTasksPausesAndReportsEachResult);
        timed("an agent with its own key file runs a task; close() stops it",
              t::fileSignedAgentRunsATaskAndCloseStopsIt);
      }
    } catch (Throwable failure) {
      System.out.flush();
      System.err.println("FAILED: " + failure);
      failure.printStackTrace();
      System.exit(1);
    }
    System.out.printf("all JNI checks passed in %.1f s%n", (System.nanoTime() - began) / 1e9);
  }

  private static void timed(String name, Body body) throws Exception {
    System.out.println("case: " + name);
    long began = System.nanoTime();
    body.run();
    System.out.printf("  passed in %.2f s%n", (System.nanoTime() - began) / 1e9);
  }

  private static void check(boolean ok, String what) {
    if (!ok) throw new AssertionError(what);
  }

  private static void waitFor(BooleanSupplier condition, int timeoutMs, String what) {
    long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
    while (!condition.getAsBoolean()) {
      check(System.nanoTime() < deadline, "timed out after " + timeoutMs + " ms waiting for " + what);
      try {
        Thread.sleep(10); // polling another thread's state; the deadline bounds it
      } catch (InterruptedException e) {
        throw new AssertionError("interrupted waiting for " + what);
      }
    }
  }

  private interface Body {
    void run() throws Exception;
  }

  /** Runs body, which must throw an EdgeAgentException with this status; returns it. */
  private static EdgeAgentException expectFailure(String status, Body body) throws Exception {
    try {
      body.run();
    } catch (EdgeAgentException e) {
      check(e.statusName().equals(status), "expected " + status + ", got " + e.getMessage());
      check(e.getMessage().startsWith(status + ": "), "the message starts with the status: " + e.getMessage());
      return e;
    }
    throw new AssertionError("expected " + status + ", but nothing was thrown");
  }

  private static void versionsMatchTheBridge() {
    check(EdgeAgent.apiVersion() == 10000, "API version " + EdgeAgent.apiVersion());
    check(EdgeAgent.abiVersion() == 1, "ABI version " + EdgeAgent.abiVersion());
  }

  private static void badInputIsAClearExceptionAndNoCrash() throws Exception {
    EdgeAgentException e = expectFailure("EDGE_AGENT_ERR_CONFIG", () -> new EdgeAgent("this is [not toml", null));
    check(e.detail().length() > 0, "a parse error carries the library's message");
    e = expectFailure("EDGE_AGENT_ERR_CONFIG", () -> new EdgeAgent("broker.keepalive_s = \"thirty\"\n", null));
    check(e.detail().contains("broker.keepalive_s"), "the message names the key: " + e.detail());
    e = expectFailure("EDGE_AGENT_ERR_CONFIG", () -> new EdgeAgent("agent.no_such_key = 1\n", null));
    check(e.detail().contains("no_such_key"), "the message names the unknown key: " + e.detail());
    expectFailure("EDGE_AGENT_ERR_INVALID_ARGUMENT", () -> new EdgeAgent(null, null));
    try {
      new EdgeAgent("agent.name = \"a\0b\"\n", null);
      throw new AssertionError("a NUL in the config text was accepted");
    } catch (IllegalArgumentException expected) {
      // refused in Java: C would read the text only up to the NUL
    }
    // The native methods themselves, with a null handle (what a closed agent would pass): refused, no crash.
    Method start = EdgeAgent.class.getDeclaredMethod("nativeStart", long.class);
    Method stats = EdgeAgent.class.getDeclaredMethod("nativeStats", long.class, long[].class, double[].class);
    Method destroy = EdgeAgent.class.getDeclaredMethod("nativeDestroy", long.class);
    start.setAccessible(true);
    stats.setAccessible(true);
    destroy.setAccessible(true);
    check((int) start.invoke(null, 0L) == 1, "start(null) is EDGE_AGENT_ERR_INVALID_ARGUMENT");
    check(!EdgeAgent.lastError().isEmpty(), "start(null) left a message");
    check((int) stats.invoke(null, 0L, new long[13], new double[2]) == 1, "stats(null) is INVALID_ARGUMENT");
    check((int) destroy.invoke(null, 0L) == 0, "destroy(null) is ignored");
  }

  /** Collects what the listener saw; the listener also tries what the threading rules forbid. */
  private static final class Recorder implements EdgeAgentListener {
    final List<AgentEvent> events = new ArrayList<>();
    final List<String> refusals = new ArrayList<>();
    final AtomicInteger logLines = new AtomicInteger();
    private final AtomicBoolean triedCallInLog = new AtomicBoolean();
    volatile EdgeAgent agent;

    @Override
    public void onEvent(AgentEvent event) {
      synchronized (this) {
        events.add(event);
      }
      if (event.kind() == AgentEvent.Kind.RESULT) {
        refused("stop in onEvent", () -> agent.stop());
        refused("close in onEvent", () -> agent.close());
        agent.stats(); // allowed from the event thread
      }
    }

    @Override
    public void onLog(LogLevel level, String component, String line) {
      logLines.incrementAndGet();
      EdgeAgent a = agent;
      if (a != null && triedCallInLog.compareAndSet(false, true)) refused("stats in onLog", a::stats);
    }

    private void refused(String what, Runnable call) {
      String outcome;
      try {
        call.run();
        outcome = what + ": allowed";
      } catch (EdgeAgentException e) {
        outcome = what + ": " + e.statusName();
      }
      synchronized (this) {
        refusals.add(outcome);
      }
    }

    synchronized List<AgentEvent> snapshot() {
      return new ArrayList<>(events);
    }

    synchronized long results() {
      return events.stream().filter(e -> e.kind() == AgentEvent.Kind.RESULT).count();
    }

    synchronized List<String> refusals() {
      return new ArrayList<>(refusals);
    }
  }

  /** A P-256 key held by the test as Android Keystore would hold it: the agent gets only the public key. */
  private static final class JavaKeySigner implements HostSigner {
    private final KeyPair pair;
    final AtomicInteger signatures = new AtomicInteger();
    volatile EdgeAgent agent;
    volatile String callFromSign = "not tried";
    private final AtomicBoolean triedCall = new AtomicBoolean();

    JavaKeySigner() throws Exception {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"));
      pair = g.generateKeyPair();
    }

    @Override
    public byte[] publicKey() {
      return pair.getPublic().getEncoded();
    }

    @Override
    public byte[] sign(byte[] digest) {
      try {
        Signature s = Signature.getInstance("NONEwithECDSA"); // the digest is already SHA-256, as on Android
        s.initSign(pair.getPrivate());
        s.update(digest);
        byte[] der = s.sign();
        signatures.incrementAndGet();
        EdgeAgent a = agent;
        if (a != null && triedCall.compareAndSet(false, true)) {
          try {
            a.stats();
            callFromSign = "allowed";
          } catch (EdgeAgentException e) {
            callFromSign = e.statusName();
          }
        }
        return der;
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }
  }

  private void hostSignedAgentRunsTasksPausesAndReportsEachResult() throws Exception {
    JavaKeySigner signer = new JavaKeySigner();
    Recorder recorder = new Recorder();
    String config = region.agentConfig("jni-host-signer", "pw-agent", null);
    EdgeAgent agent = new EdgeAgent(config, signer, recorder, LogLevel.INFO);
    EdgeAgentException e;
    recorder.agent = agent;
    signer.agent = agent;
    try {
      String id = agent.agentId();
      check(id.matches("[0-9a-f]+"), "the agent id is hex: " + id);
      String second = region.agentConfig("second", "pw", null);
      e = expectFailure("EDGE_AGENT_ERR_ALREADY_EXISTS", () -> new EdgeAgent(second, null));
      check(e.detail().contains("one per process"), "a second agent is refused: " + e.detail());
      region.addAgent(id, "pw-agent");

      // The owner-policy feed shows in the stats; out-of-range values are refused.
      agent.feedThermal(41.5);
      agent.feedNetwork(false);
      agent.feedPower(false, 90.0);
      expectFailure("EDGE_AGENT_ERR_INVALID_ARGUMENT", () -> agent.feedPower(false, 150.0));
      expectFailure("EDGE_AGENT_ERR_INVALID_ARGUMENT", () -> agent.feedThermal(Double.POSITIVE_INFINITY));
      AgentStats s = agent.stats();
      check(s.state() == AgentState.STOPPED, "created, the agent is stopped");
      check(s.powerKnown() && !s.onBattery() && Math.abs(s.chargePercent() - 90.0) < 0.01, "power fed: " + s);
      check(s.thermalKnown() && Math.abs(s.temperatureCelsius() - 41.5) < 0.01, "thermal fed");
      check(s.networkKnown() && !s.meteredNetwork(), "network fed");

      agent.start();
      expectFailure("EDGE_AGENT_ERR_STATE", agent::start);
      check(region.waitHello(id, READY_MS), "the aggregator heard the agent's hello");
      check(region.agentKeyIs(id, signer.publicKey()), "the aggregator knows the agent by the Java-held key");
      waitFor(() -> agent.stats().state() == AgentState.RUNNING, READY_MS, "RUNNING");

      // Paused by the host, it runs nothing; resumed, the queued tasks run and are accepted.
      agent.pause();
      check(agent.stats().state() == AgentState.PAUSED, "paused");
      region.queueSmallTasks(id, "jni-held", 2);
      long holdUntil = System.nanoTime() + 1_500_000_000L;
      while (System.nanoTime() < holdUntil) {
        check(agent.stats().resultsSpooled() == 0, "no task runs while paused");
        Thread.sleep(50);
      }
      agent.resume();
      check(region.waitAccepted(id, 2, RESULT_MS), "both tasks' results were accepted after resume");
      waitFor(() -> recorder.results() == 2, 10000, "two RESULT events");
      for (AgentEvent ev : recorder.snapshot()) {
        if (ev.kind() != AgentEvent.Kind.RESULT) continue;
        check(ev.resultStatus() == 0 && ev.resultStatusName().equals("ok"), "result ok: " + ev);
        byte[] receipted = region.resultDigest(ev.taskId());
        check(receipted != null && Arrays.equals(receipted, ev.resultDigest()), "event digest = receipt: " + ev);
      }
      check(region.refused(id) == 0, "no result was refused");
      check(signer.signatures.get() >= 3, "the Java signer signed hello, work request and batch");
      check(signer.callFromSign.equals("EDGE_AGENT_ERR_IN_CALLBACK"), "signer's call: " + signer.callFromSign);
      check(recorder.logLines.get() > 0, "log lines reached the listener");
      check(recorder.refusals().containsAll(List.of("stop in onEvent: EDGE_AGENT_ERR_IN_CALLBACK",
                                                    "close in onEvent: EDGE_AGENT_ERR_IN_CALLBACK",
                                                    "stats in onLog: EDGE_AGENT_ERR_IN_CALLBACK")),
            "calls the threading rules forbid were refused: " + recorder.refusals());

      agent.stop();
      s = agent.stats();
      check(s.state() == AgentState.STOPPED && s.resultsSpooled() == 2, "stopped, results kept: " + s);
      List<AgentEvent> events = recorder.snapshot();
      check(events.get(0).kind() == AgentEvent.Kind.STATE && events.get(0).state() == AgentState.RUNNING,
            "the first event is RUNNING: " + events.get(0));
      AgentEvent last = events.get(events.size() - 1);
      check(last.kind() == AgentEvent.Kind.STATE && last.state() == AgentState.STOPPED, "the last is STOPPED");
      check(s.eventsDelivered() == events.size(), "every delivered event reached Java");
    } finally {
      agent.close();
    }
    int eventsAtClose = recorder.snapshot().size();
    agent.close(); // idempotent
    e = expectFailure("EDGE_AGENT_ERR_STATE", agent::stats);
    check(e.detail().contains("closed"), "a closed agent says so: " + e.detail());
    check(recorder.snapshot().size() == eventsAtClose, "no event after close");
  }

  private void fileSignedAgentRunsATaskAndCloseStopsIt() throws Exception {
    Recorder recorder = new Recorder();
    String config = region.agentConfig("jni-file-signer", "pw-agent", null);
    String id;
    try (EdgeAgent agent = new EdgeAgent(config, recorder)) {
      recorder.agent = agent;
      id = agent.agentId();
      region.addAgent(id, "pw-agent");
      agent.start();
      check(region.waitHello(id, READY_MS), "the aggregator heard the agent's hello");
      region.queueSmallTasks(id, "jni-file", 1);
      check(region.waitAccepted(id, 1, RESULT_MS), "the task's result was accepted");
      waitFor(() -> recorder.results() == 1, 10000, "one RESULT event");
    } // closed while running: stops with a drain
    List<AgentEvent> events = recorder.snapshot();
    AgentEvent last = events.get(events.size() - 1);
    check(last.kind() == AgentEvent.Kind.STATE && last.state() == AgentState.STOPPED, "close stopped it: " + last);
    check(region.refused(id) == 0, "no result was refused");
  }
}
