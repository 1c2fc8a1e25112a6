package org.edgecompute;

/** Log severities, most severe first; the ordinal is edge_agent_log_level. */
public enum LogLevel {
  ERROR,
  WARN,
  INFO,
  DEBUG;

  static LogLevel fromCode(int code) {
    LogLevel[] all = values();
    return code >= 0 && code < all.length ? all[code] : DEBUG;
  }
}
