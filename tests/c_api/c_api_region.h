/* A test region for the C API's tests, with a C interface over the C++ fixtures: a real mosquitto on a random
 * loopback port (ACLs, per-agent passwords), the test aggregator, catalogue tasks, and a test signing key that
 * stands in for a phone keystore. Every function reports failures on stderr and returns NULL / 0 / -1. */
#ifndef EC_C_API_REGION_H
#define EC_C_API_REGION_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ec_region ec_region;

/* Starts the broker and the aggregator in a new temp folder; NULL on failure. */
ec_region* ec_region_start(void);
/* Stops everything and removes the temp folder; NULL is ignored. */
void ec_region_stop(ec_region* region);
/* Config text (TOML, malloc'd) for an agent named `name` with its own state folder and the broker password
 * `password`, followed by `extra` (dotted keys, may be NULL). */
char* ec_region_agent_config(ec_region* region, const char* name, const char* password, const char* extra);
/* Registers the agent's broker user (username = agent id) and restarts the broker so it reads it; 0 on success. */
int ec_region_add_agent(ec_region* region, const char* agent_id, const char* password);
/* Waits for the agent's online hello; 1 if it came. */
int ec_region_wait_hello(ec_region* region, const char* agent_id, int timeout_ms);
/* Waits until the agent's last online hello says paused with a reason containing `reason`, or (reason "") says
 * running; 1 if so. */
int ec_region_wait_hello_paused(ec_region* region, const char* agent_id, const char* reason, int timeout_ms);
/* Queues `count` small copy tasks named prefix-0.. for the agent; 0 on success. */
int ec_region_queue_small_tasks(ec_region* region, const char* agent_id, const char* prefix, int count);
/* Queues `count` slow Mandelbrot tasks (each around a second of CPU in a debug build); 0 on success. */
int ec_region_queue_slow_tasks(ec_region* region, const char* agent_id, const char* prefix, int count);
/* Waits until at least n results from the agent were accepted (signature and digests checked); 1 if so. */
int ec_region_wait_accepted(ec_region* region, const char* agent_id, size_t n, int timeout_ms);
/* Results from the agent the aggregator accepted so far. */
size_t ec_region_accepted(ec_region* region, const char* agent_id);
/* Accepted results from the agent with this protocol status (0 ok, 5 cancelled, ...). */
size_t ec_region_accepted_with_status(ec_region* region, const char* agent_id, int status);
/* Results from the agent that were refused. */
size_t ec_region_refused(ec_region* region, const char* agent_id);
/* 1 when the aggregator's record of the agent carries exactly this SPKI DER public key. */
int ec_region_agent_key_is(ec_region* region, const char* agent_id, const uint8_t* spki, size_t len);
/* WorkRequests received from the agent so far. */
size_t ec_region_work_requests(ec_region* region, const char* agent_id);
/* Tasks still queued (not sent) for the agent. */
size_t ec_region_queued(ec_region* region, const char* agent_id);
/* The result digest (32 bytes) of the accepted result of task_id (attempt 0) into out; 1 if there is one. */
int ec_region_result_digest(ec_region* region, const char* task_id, uint8_t out[32]);

/* A P-256 key held by the test, as a phone keystore would hold it. */
typedef struct ec_test_key ec_test_key;
/* A fresh key; NULL on failure. */
ec_test_key* ec_test_key_new(void);
/* Frees the key; NULL is ignored. */
void ec_test_key_free(ec_test_key* key);
/* The public key as SPKI DER. */
const uint8_t* ec_test_key_spki(const ec_test_key* key, size_t* len);
/* An edge_agent_sign_fn: signs the digest with `user` (an ec_test_key*), writing DER as Android Keystore does. */
int ec_test_key_sign(void* user, const uint8_t digest[32], uint8_t* signature, size_t capacity, size_t* length);
/* Signatures made so far. */
size_t ec_test_key_signatures(const ec_test_key* key);

#ifdef __cplusplus
}
#endif

#endif
