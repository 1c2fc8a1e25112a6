package org.edgecompute;

/**
 * A P-256 key the app holds (Android Keystore, StrongBox), so that the agent never sees the private key. The agent
 * id, and with it the broker username, is derived from the public key.
 */
public interface HostSigner {
  /** The SubjectPublicKeyInfo of the P-256 key, DER ({@code PublicKey.getEncoded()}). */
  byte[] publicKey();

  /**
   * Signs a 32-byte SHA-256 digest as it is ({@code Signature.getInstance("NONEwithECDSA")}), returning the DER
   * ECDSA-Sig-Value or 64 bytes of raw r||s. Called on agent threads, possibly several at once: it must be
   * thread-safe, and must not call the agent (EDGE_AGENT_ERR_IN_CALLBACK). Throwing, or returning null, fails that
   * one message (the agent logs it).
   */
  byte[] sign(byte[] digest);
}
