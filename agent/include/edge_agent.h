/* The edge agent as a library for host applications (phone apps, embedders): create one agent from a TOML
 * config string, start and stop it, feed it the device's power, thermal and network state, and receive its logs,
 * results and state changes through callbacks. Pure C; see docs/c-api.md for the threading rules in full.
 *
 * Threading, in short:
 * - Every function may be called from any host thread, except where a callback rule below says otherwise.
 * - The event callback (results, state changes) is called on one thread the library owns, one event at a time,
 *   in order. From inside it, edge_agent_start, edge_agent_stop and edge_agent_destroy return
 *   EDGE_AGENT_ERR_IN_CALLBACK (they would wait for the very thread they run on); everything else is allowed.
 * - The log callback is called on whichever agent thread logs, one line at a time, under the logger's lock.
 *   From inside it every edge_agent_* function except the version and error getters returns
 *   EDGE_AGENT_ERR_IN_CALLBACK (they may log, and logging from the log callback would deadlock).
 * - No callback is called after edge_agent_stop or edge_agent_destroy has returned.
 *
 * Process rules: the library installs no signal handlers and never forks (tasks run on threads inside the
 * process unless the config opts into agent.executor = "worker"). One agent per process: a second
 * edge_agent_create while one exists returns EDGE_AGENT_ERR_ALREADY_EXISTS. */
#ifndef EDGE_AGENT_H
#define EDGE_AGENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define EDGE_AGENT_EXPORT
#else
#define EDGE_AGENT_EXPORT __attribute__((visibility("default")))
#endif

/* The API this header describes: major * 10000 + minor * 100 + patch. Additions raise the minor. */
#define EDGE_AGENT_API_VERSION 10000
/* The binary interface: changes only when a struct layout or a function signature changes incompatibly. */
#define EDGE_AGENT_ABI_VERSION 1

/* One agent; opaque. */
typedef struct edge_agent edge_agent;

/* What a call returned. */
typedef enum edge_agent_status {
  EDGE_AGENT_OK = 0,
  EDGE_AGENT_ERR_INVALID_ARGUMENT = 1, /* a null pointer, a value out of range */
  EDGE_AGENT_ERR_CONFIG = 2,           /* the config text does not parse or validate; the message names the key */
  EDGE_AGENT_ERR_ALREADY_EXISTS = 3,   /* another agent exists in this process */
  EDGE_AGENT_ERR_STATE = 4,            /* not allowed in the agent's current state (e.g. start while running) */
  EDGE_AGENT_ERR_SIGNER = 5,           /* the host signer's key is invalid, or its signature failed or did not verify */
  EDGE_AGENT_ERR_START = 6,            /* the agent could not be assembled or started (journal, devices, broker) */
  EDGE_AGENT_ERR_IN_CALLBACK = 7,      /* not allowed from inside this callback (see the threading rules) */
  EDGE_AGENT_ERR_INTERNAL = 8,         /* an unexpected failure inside the library */
  /* Not a status: makes every int value a valid edge_agent_status, so the library can name an unknown one. */
  EDGE_AGENT_STATUS_FORCE_INT_ = 0x7fffffff
} edge_agent_status;

/* Log severities, most severe first. */
typedef enum edge_agent_log_level {
  EDGE_AGENT_LOG_ERROR = 0,
  EDGE_AGENT_LOG_WARN = 1,
  EDGE_AGENT_LOG_INFO = 2,
  EDGE_AGENT_LOG_DEBUG = 3
} edge_agent_log_level;

/* The agent's state as the host sees it. */
typedef enum edge_agent_state {
  EDGE_AGENT_STATE_STOPPED = 0, /* created, or stopped */
  EDGE_AGENT_STATE_RUNNING = 1, /* started, pulling and running tasks */
  EDGE_AGENT_STATE_PAUSED = 2,  /* started, paused by the host or by the aggregator: no new work */
  EDGE_AGENT_STATE_DRAINING = 3 /* told by the aggregator to drain, or stopping */
} edge_agent_state;

/* What an event reports. */
typedef enum edge_agent_event_kind {
  EDGE_AGENT_EVENT_RESULT = 1, /* a task's result is signed and durable (it is being published) */
  EDGE_AGENT_EVENT_STATE = 2   /* the agent's state changed */
} edge_agent_event_kind;

/* One event. Pointers are valid only during the callback. */
typedef struct edge_agent_event {
  edge_agent_event_kind kind;
  /* EDGE_AGENT_EVENT_RESULT */
  const char* task_id;
  uint32_t attempt;
  int result_status;              /* protocol ResultStatus: 0 ok, 1 kernel_error, 2 timeout, 3 rejected, ... */
  const char* result_status_name; /* "ok", "kernel_error", "timeout", "rejected", "unsupported", "cancelled", ... */
  uint8_t result_digest[32];      /* SHA-256 of the signed Result: what the aggregator's receipt names */
  /* EDGE_AGENT_EVENT_STATE */
  edge_agent_state state;
  const char* reason; /* "started", "stopped", "host pause", "host resume", "aggregator control" */
} edge_agent_event;

/* Counters and the host-fed signals as last seen. Set struct_size = sizeof(edge_agent_stats) before the call. */
typedef struct edge_agent_stats {
  size_t struct_size;
  edge_agent_state state;
  uint64_t tasks_admitted;
  uint64_t tasks_answered; /* answered without running (expired, unsupported, cancelled on drain) */
  uint64_t results_spooled;
  uint64_t batches_published;
  uint64_t batches_released; /* receipted by the aggregator */
  uint64_t messages_rejected;
  uint64_t events_delivered;
  /* Host-fed signals; *_known is 0 until the host has fed that signal. */
  int power_known;
  int on_battery;
  double charge_percent; /* -1 when not given */
  int thermal_known;
  double temperature_c;
  int network_known;
  int metered_network;
} edge_agent_stats;

/* Signs a 32-byte SHA-256 digest with the host's P-256 key. Writes the signature (64-byte raw r||s, or an
 * ASN.1 DER ECDSA-Sig-Value as Android Keystore returns it) to `signature` (capacity bytes) and its length to
 * *length; returns 0 on success. Called on agent threads, possibly several at once: it must be thread-safe. */
typedef int (*edge_agent_sign_fn)(void* user, const uint8_t digest[32], uint8_t* signature, size_t capacity,
                                  size_t* length);

/* A host-held signing key: the agent never sees the private key. */
typedef struct edge_agent_signer {
  const uint8_t* public_key; /* SubjectPublicKeyInfo, DER bytes or PEM text ("-----BEGIN PUBLIC KEY-----") */
  size_t public_key_len;
  edge_agent_sign_fn sign;
  void* user; /* passed back to sign */
} edge_agent_signer;

/* Receives one formatted log line (no newline). */
typedef void (*edge_agent_log_fn)(void* user, edge_agent_log_level level, const char* component, const char* line);
/* Receives one event. */
typedef void (*edge_agent_event_fn)(void* user, const edge_agent_event* event);

/* The API version the library was built with (EDGE_AGENT_API_VERSION of its header). */
EDGE_AGENT_EXPORT unsigned edge_agent_api_version(void);
/* The ABI version of the library; a host built against a different EDGE_AGENT_ABI_VERSION must not use it. */
EDGE_AGENT_EXPORT unsigned edge_agent_abi_version(void);
/* A constant name for a status ("EDGE_AGENT_ERR_CONFIG"). */
EDGE_AGENT_EXPORT const char* edge_agent_status_name(edge_agent_status status);
/* The message of the last failed call on the calling thread ("" when the last call succeeded). */
EDGE_AGENT_EXPORT const char* edge_agent_last_error(void);

/* Creates the agent from TOML config text; `signer` may be NULL (the key in agent.state_dir is used). */
EDGE_AGENT_EXPORT edge_agent_status edge_agent_create(const char* config_toml, const edge_agent_signer* signer,
                                                      edge_agent** out);
/* Stops the agent if running (with drain) and frees it; NULL is ignored. */
EDGE_AGENT_EXPORT edge_agent_status edge_agent_destroy(edge_agent* agent);
/* The agent id (hex of the key id; the broker username by default) into buf, NUL-terminated. */
EDGE_AGENT_EXPORT edge_agent_status edge_agent_get_id(const edge_agent* agent, char* buf, size_t capacity);

/* Sets the log callback and the most verbose level passed to it; call while stopped. NULL fn = stderr. */
EDGE_AGENT_EXPORT edge_agent_status edge_agent_set_log_callback(edge_agent* agent, edge_agent_log_fn fn, void* user,
                                                                edge_agent_log_level max_level);
/* Sets the event callback; call while stopped. NULL fn = no events. */
EDGE_AGENT_EXPORT edge_agent_status edge_agent_set_event_callback(edge_agent* agent, edge_agent_event_fn fn,
                                                                  void* user);

/* Discovers devices, opens the journal and connects; returns once started (connection continues in the background). */
EDGE_AGENT_EXPORT edge_agent_status edge_agent_start(edge_agent* agent);
/* Stops pulling, answers queued tasks Cancelled, waits for running ones (agent.drain_timeout_s), disconnects. */
EDGE_AGENT_EXPORT edge_agent_status edge_agent_stop(edge_agent* agent);
/* Stops taking new work; running tasks finish, queued ones wait. */
EDGE_AGENT_EXPORT edge_agent_status edge_agent_pause(edge_agent* agent);
/* Undoes edge_agent_pause (an aggregator's pause still holds). */
EDGE_AGENT_EXPORT edge_agent_status edge_agent_resume(edge_agent* agent);

/* Feeds the power source; charge_percent in 0..100, or negative when unknown. */
EDGE_AGENT_EXPORT edge_agent_status edge_agent_feed_power(edge_agent* agent, int on_battery, double charge_percent);
/* Feeds the device's hottest relevant temperature in degrees Celsius. */
EDGE_AGENT_EXPORT edge_agent_status edge_agent_feed_thermal(edge_agent* agent, double celsius);
/* Feeds whether the current network is metered (cellular). */
EDGE_AGENT_EXPORT edge_agent_status edge_agent_feed_network(edge_agent* agent, int metered);

/* Fills *stats (set stats->struct_size first). */
EDGE_AGENT_EXPORT edge_agent_status edge_agent_get_stats(edge_agent* agent, edge_agent_stats* stats);

#ifdef __cplusplus
}
#endif

#endif /* EDGE_AGENT_H */
