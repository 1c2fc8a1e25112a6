/* The C API from C, against a real mosquitto and the test aggregator: lifecycle, bad config, one agent per
 * process, a host signer, the policy feed, callbacks, and stop while tasks run. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, nanosleep */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* after setjmp.h, stdarg.h and stddef.h, which it needs */
#include <cmocka.h>

#include "c_api_region.h"
#include "edge_agent.h"

enum { ready_ms = 30000, result_ms = 60000, max_events = 256 };

static ec_region* region;
static edge_agent* agent; /* the test's agent, destroyed by the teardown even when an assertion fails */
static char agent_id[128];

/* What the event callback saw (it runs on the library's event thread). */
static pthread_mutex_t events_mu = PTHREAD_MUTEX_INITIALIZER;
static edge_agent_event_kind event_kinds[max_events];
static edge_agent_state event_states[max_events];
static int event_statuses[max_events];
static char event_tasks[max_events][64];
static uint8_t event_digests[max_events][32];
static int event_count;
static int stop_from_callback = EDGE_AGENT_OK; /* what edge_agent_stop returned inside the callback */
static int log_lines;
static int log_reentry = EDGE_AGENT_OK; /* what an API call returned inside the log callback */

static void on_event(void* user, const edge_agent_event* e) {
  (void)user;
  pthread_mutex_lock(&events_mu);
  if (event_count < max_events) {
    event_kinds[event_count] = e->kind;
    event_states[event_count] = e->state;
    event_statuses[event_count] = e->result_status;
    snprintf(event_tasks[event_count], sizeof event_tasks[0], "%s",
             e->kind == EDGE_AGENT_EVENT_RESULT ? e->task_id : "");
    memcpy(event_digests[event_count], e->result_digest, 32);
    ++event_count;
  }
  pthread_mutex_unlock(&events_mu);
  if (e->kind == EDGE_AGENT_EVENT_RESULT) stop_from_callback = edge_agent_stop(agent);
}

static void on_log(void* user, edge_agent_log_level level, const char* component, const char* line) {
  (void)user;
  (void)level;
  (void)component;
  (void)line;
  __atomic_add_fetch(&log_lines, 1, __ATOMIC_SEQ_CST);
  edge_agent_stats s = {.struct_size = sizeof s};
  log_reentry = edge_agent_get_stats(agent, &s);
}

static int events_of_kind(edge_agent_event_kind kind) {
  int n = 0;
  pthread_mutex_lock(&events_mu);
  for (int i = 0; i < event_count; ++i) n += event_kinds[i] == kind;
  pthread_mutex_unlock(&events_mu);
  return n;
}

static void reset_events(void) {
  pthread_mutex_lock(&events_mu);
  event_count = 0;
  pthread_mutex_unlock(&events_mu);
  stop_from_callback = EDGE_AGENT_OK;
  log_lines = 0;
  log_reentry = EDGE_AGENT_OK;
}

static void sleep_ms(long ms) {
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
}

static long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

static edge_agent_stats stats_now(void) {
  edge_agent_stats s = {.struct_size = sizeof s};
  assert_int_equal(edge_agent_get_stats(agent, &s), EDGE_AGENT_OK);
  return s;
}

/* Polls the agent's stats (another thread's state) until pred holds or the deadline passes. */
static int wait_stats(int (*pred)(const edge_agent_stats*), int timeout_ms) {
  const long deadline = now_ms() + timeout_ms;
  for (;;) {
    edge_agent_stats s = stats_now();
    if (pred(&s)) return 1;
    if (now_ms() > deadline) return 0;
    sleep_ms(20);
  }
}

/* Creates the test's agent from the region's config (plus extra), registers its broker user. */
static void create_agent(const char* name, const edge_agent_signer* signer, const char* extra) {
  char* config = ec_region_agent_config(region, name, "pw-agent", extra);
  assert_non_null(config);
  const edge_agent_status st = edge_agent_create(config, signer, &agent);
  free(config);
  assert_int_equal(st, EDGE_AGENT_OK);
  assert_int_equal(edge_agent_get_id(agent, agent_id, sizeof agent_id), EDGE_AGENT_OK);
  assert_int_equal(ec_region_add_agent(region, agent_id, "pw-agent"), 0);
}

static void start_agent(void) {
  assert_int_equal(edge_agent_start(agent), EDGE_AGENT_OK);
  assert_true(ec_region_wait_hello(region, agent_id, ready_ms));
}

static int group_setup(void** state) {
  (void)state;
  region = ec_region_start();
  return region ? 0 : -1;
}

static int group_teardown(void** state) {
  (void)state;
  ec_region_stop(region);
  return 0;
}

static int test_setup(void** state) {
  (void)state;
  reset_events();
  return 0;
}

static int test_teardown(void** state) {
  (void)state;
  edge_agent_destroy(agent);
  agent = NULL;
  return 0;
}

static void versions_match_the_header(void** state) {
  (void)state;
  assert_int_equal(edge_agent_api_version(), EDGE_AGENT_API_VERSION);
  assert_int_equal(edge_agent_abi_version(), EDGE_AGENT_ABI_VERSION);
  assert_string_equal(edge_agent_status_name(EDGE_AGENT_ERR_CONFIG), "EDGE_AGENT_ERR_CONFIG");
  assert_string_equal(edge_agent_status_name((edge_agent_status)99), "EDGE_AGENT_ERR_UNKNOWN");
}

static void bad_config_is_a_clear_error_and_no_agent(void** state) {
  (void)state;
  edge_agent* a = NULL;
  assert_int_equal(edge_agent_create("this is [not toml", NULL, &a), EDGE_AGENT_ERR_CONFIG);
  assert_null(a);
  assert_true(strlen(edge_agent_last_error()) > 0);
  assert_int_equal(edge_agent_create("broker.keepalive_s = \"thirty\"\n", NULL, &a), EDGE_AGENT_ERR_CONFIG);
  assert_non_null(strstr(edge_agent_last_error(), "broker.keepalive_s"));
  assert_int_equal(edge_agent_create("agent.no_such_key = 1\n", NULL, &a), EDGE_AGENT_ERR_CONFIG);
  assert_non_null(strstr(edge_agent_last_error(), "no_such_key"));
  assert_int_equal(edge_agent_create(NULL, NULL, &a), EDGE_AGENT_ERR_INVALID_ARGUMENT);
  assert_int_equal(edge_agent_create("", NULL, NULL), EDGE_AGENT_ERR_INVALID_ARGUMENT);
  assert_int_equal(edge_agent_start(NULL), EDGE_AGENT_ERR_INVALID_ARGUMENT);
  /* A config that parses but cannot run (no trusted aggregator key) fails at start, with the reason. */
  char* config = ec_region_agent_config(region, "no-trust", "pw", NULL);
  assert_non_null(config);
  char* trust = strstr(config, "trust.aggregator_keys");
  assert_non_null(trust);
  memmove(trust, strchr(trust, '\n') + 1, strlen(strchr(trust, '\n') + 1) + 1);
  assert_int_equal(edge_agent_create(config, NULL, &agent), EDGE_AGENT_OK);
  free(config);
  assert_int_equal(edge_agent_start(agent), EDGE_AGENT_ERR_START);
  assert_non_null(strstr(edge_agent_last_error(), "trust.aggregator_keys is empty"));
  assert_int_equal(stats_now().state, EDGE_AGENT_STATE_STOPPED);
  assert_int_equal(edge_agent_destroy(agent), EDGE_AGENT_OK);
  agent = NULL;
  /* After all the refusals the process can still create its one agent. */
  create_agent("after-bad-config", NULL, NULL);
  assert_string_equal(edge_agent_last_error(), "");
}

static void a_second_agent_in_the_process_is_refused(void** state) {
  (void)state;
  create_agent("first", NULL, NULL);
  char* config = ec_region_agent_config(region, "second", "pw", NULL);
  edge_agent* second = NULL;
  assert_int_equal(edge_agent_create(config, NULL, &second), EDGE_AGENT_ERR_ALREADY_EXISTS);
  assert_null(second);
  assert_non_null(strstr(edge_agent_last_error(), "one per process"));
  assert_int_equal(edge_agent_destroy(agent), EDGE_AGENT_OK);
  agent = NULL;
  assert_int_equal(edge_agent_create(config, NULL, &agent), EDGE_AGENT_OK);
  free(config);
}

static void lifecycle_runs_tasks_and_reports_each_result(void** state) {
  (void)state;
  create_agent("lifecycle", NULL, NULL);
  assert_int_equal(edge_agent_set_event_callback(agent, on_event, NULL), EDGE_AGENT_OK);
  assert_int_equal(edge_agent_set_log_callback(agent, on_log, NULL, EDGE_AGENT_LOG_INFO), EDGE_AGENT_OK);
  start_agent();
  assert_int_equal(edge_agent_start(agent), EDGE_AGENT_ERR_STATE);
  assert_int_equal(edge_agent_set_event_callback(agent, on_event, NULL), EDGE_AGENT_ERR_STATE);
  assert_int_equal(ec_region_queue_small_tasks(region, agent_id, "life", 3), 0);
  assert_true(ec_region_wait_accepted(region, agent_id, 3, result_ms));
  const long deadline = now_ms() + 10000;
  while (events_of_kind(EDGE_AGENT_EVENT_RESULT) < 3 && now_ms() < deadline) sleep_ms(20);
  assert_int_equal(events_of_kind(EDGE_AGENT_EVENT_RESULT), 3);
  /* Each result event names its task, status ok, and the digest the aggregator's receipt names. */
  pthread_mutex_lock(&events_mu);
  for (int i = 0; i < event_count; ++i) {
    if (event_kinds[i] != EDGE_AGENT_EVENT_RESULT) continue;
    uint8_t digest[32];
    assert_int_equal(event_statuses[i], 0);
    assert_true(ec_region_result_digest(region, event_tasks[i], digest));
    assert_memory_equal(digest, event_digests[i], 32);
  }
  pthread_mutex_unlock(&events_mu);
  /* Stopping from inside the event callback was refused, not deadlocked. */
  assert_int_equal(stop_from_callback, EDGE_AGENT_ERR_IN_CALLBACK);
  assert_true(__atomic_load_n(&log_lines, __ATOMIC_SEQ_CST) > 0);
  assert_int_equal(log_reentry, EDGE_AGENT_ERR_IN_CALLBACK);
  edge_agent_stats s = stats_now();
  assert_int_equal(s.state, EDGE_AGENT_STATE_RUNNING);
  assert_int_equal(s.tasks_admitted, 3);
  assert_int_equal(s.results_spooled, 3);
  assert_int_equal(edge_agent_stop(agent), EDGE_AGENT_OK);
  s = stats_now();
  assert_int_equal(s.state, EDGE_AGENT_STATE_STOPPED);
  assert_int_equal(s.results_spooled, 3); /* kept after stop */
  /* The first event said started, the last said stopped; nothing comes after stop returned. */
  pthread_mutex_lock(&events_mu);
  const int count = event_count;
  assert_int_equal(event_kinds[0], EDGE_AGENT_EVENT_STATE);
  assert_int_equal(event_states[0], EDGE_AGENT_STATE_RUNNING);
  assert_int_equal(event_kinds[count - 1], EDGE_AGENT_EVENT_STATE);
  assert_int_equal(event_states[count - 1], EDGE_AGENT_STATE_STOPPED);
  pthread_mutex_unlock(&events_mu);
  assert_int_equal(stats_now().events_delivered, (uint64_t)count);
  /* Stopped, the agent starts again (same identity, same journal) and works. */
  start_agent();
  assert_int_equal(ec_region_queue_small_tasks(region, agent_id, "again", 1), 0);
  assert_true(ec_region_wait_accepted(region, agent_id, 4, result_ms));
  assert_int_equal(edge_agent_stop(agent), EDGE_AGENT_OK);
  assert_int_equal(ec_region_refused(region, agent_id), 0);
}

static void host_signer_signs_everything_and_no_private_key_is_made(void** state) {
  (void)state;
  ec_test_key* key = ec_test_key_new();
  assert_non_null(key);
  edge_agent_signer signer = {0};
  signer.public_key = ec_test_key_spki(key, &signer.public_key_len);
  signer.sign = ec_test_key_sign;
  signer.user = key;
  create_agent("host-signer", &signer, NULL);
  start_agent();
  assert_true(ec_region_agent_key_is(region, agent_id, signer.public_key, signer.public_key_len));
  assert_int_equal(ec_region_queue_small_tasks(region, agent_id, "signed", 2), 0);
  assert_true(ec_region_wait_accepted(region, agent_id, 2, result_ms));
  assert_int_equal(ec_region_refused(region, agent_id), 0);
  assert_true(ec_test_key_signatures(key) >= 3); /* hello, work request, result batch */
  assert_int_equal(edge_agent_destroy(agent), EDGE_AGENT_OK);
  agent = NULL;
  /* The state folder holds no private key: the agent never made or loaded one. */
  char* config = ec_region_agent_config(region, "host-signer", "pw", NULL);
  const char* dir = strstr(config, "agent.state_dir = \"") + strlen("agent.state_dir = \"");
  char path[512];
  snprintf(path, sizeof path, "%.*s/agent.key", (int)(strchr(dir, '"') - dir), dir);
  free(config);
  assert_int_not_equal(access(path, F_OK), 0);
  /* A key that is not a P-256 SPKI is refused at create. */
  static const uint8_t junk[] = {1, 2, 3, 4};
  signer.public_key = junk;
  signer.public_key_len = sizeof junk;
  config = ec_region_agent_config(region, "bad-signer", "pw", NULL);
  assert_int_equal(edge_agent_create(config, &signer, &agent), EDGE_AGENT_ERR_SIGNER);
  free(config);
  ec_test_key_free(key);
}

static int battery_paused(const edge_agent_stats* s) { return s->state == EDGE_AGENT_STATE_PAUSED; }
static int running(const edge_agent_stats* s) { return s->state == EDGE_AGENT_STATE_RUNNING; }

static void policy_feed_shows_in_stats_and_pause_holds_work(void** state) {
  (void)state;
  create_agent("feed", NULL, "policy.hysteresis_s = 1");
  edge_agent_stats s = stats_now();
  assert_int_equal(s.power_known, 0);
  assert_int_equal(s.thermal_known, 0);
  assert_int_equal(s.network_known, 0);
  assert_int_equal(edge_agent_feed_thermal(agent, 41.5), EDGE_AGENT_OK);
  assert_int_equal(edge_agent_feed_network(agent, 1), EDGE_AGENT_OK);
  assert_int_equal(edge_agent_feed_power(agent, 0, 90.0), EDGE_AGENT_OK);
  assert_int_equal(edge_agent_feed_power(agent, 0, 150.0), EDGE_AGENT_ERR_INVALID_ARGUMENT);
  assert_int_equal(edge_agent_feed_thermal(agent, INFINITY), EDGE_AGENT_ERR_INVALID_ARGUMENT);
  s = stats_now();
  assert_int_equal(s.power_known, 1);
  assert_int_equal(s.on_battery, 0);
  assert_true(s.charge_percent > 89.9 && s.charge_percent < 90.1);
  assert_int_equal(s.thermal_known, 1);
  assert_true(s.temperature_c > 41.4 && s.temperature_c < 41.6);
  assert_int_equal(s.network_known, 1);
  assert_int_equal(s.metered_network, 1);
  assert_int_equal(edge_agent_feed_network(agent, 0), EDGE_AGENT_OK); /* metered would pause under a policy */
  start_agent();
  assert_true(wait_stats(running, ready_ms));
  /* The host's pause: no task runs while paused; resumed, the queued tasks run. */
  assert_int_equal(edge_agent_pause(agent), EDGE_AGENT_OK);
  assert_int_equal(stats_now().state, EDGE_AGENT_STATE_PAUSED);
  /* The aggregator hears of it: the hello says paused, and why. */
  assert_true(ec_region_wait_hello_paused(region, agent_id, "host application", 10000));
  assert_int_equal(ec_region_queue_small_tasks(region, agent_id, "held", 2), 0);
  const long hold_until = now_ms() + 1500;
  while (now_ms() < hold_until) {
    /* A WorkRequest sent before the pause may still bring the tasks in: they wait, none runs. */
    assert_int_equal(stats_now().results_spooled, 0);
    sleep_ms(50);
  }
  assert_int_equal(edge_agent_resume(agent), EDGE_AGENT_OK);
  assert_true(ec_region_wait_hello_paused(region, agent_id, "", 10000));
  assert_true(ec_region_wait_accepted(region, agent_id, 2, result_ms));
  /* The owner policy reads the fed battery: low on battery pauses, mains resumes (after the hysteresis). */
  assert_int_equal(edge_agent_feed_power(agent, 1, 10.0), EDGE_AGENT_OK);
  assert_true(wait_stats(battery_paused, 10000));
  assert_int_equal(edge_agent_feed_power(agent, 0, 12.0), EDGE_AGENT_OK);
  assert_true(wait_stats(running, 15000));
  assert_int_equal(edge_agent_stop(agent), EDGE_AGENT_OK);
}

static int one_result(const edge_agent_stats* s) { return s->results_spooled >= 1; }

static void stop_while_tasks_run_drains_and_returns(void** state) {
  (void)state;
  create_agent("stop-busy", NULL, "agent.max_tasks = 8");
  start_agent();
  assert_int_equal(ec_region_queue_slow_tasks(region, agent_id, "slow", 6), 0);
  assert_true(wait_stats(one_result, result_ms));
  const long before = now_ms();
  assert_int_equal(edge_agent_stop(agent), EDGE_AGENT_OK);
  const long took = now_ms() - before;
  edge_agent_stats s = stats_now();
  assert_int_equal(s.state, EDGE_AGENT_STATE_STOPPED);
  /* Every admitted task was answered: run to the end, or Cancelled by the drain; none was lost. */
  assert_int_equal(s.results_spooled, s.tasks_admitted + s.tasks_answered);
  assert_true(took < 30000);
  print_message("stop with slow tasks running took %ld ms; admitted %llu, results %llu\n", took,
                (unsigned long long)s.tasks_admitted, (unsigned long long)s.results_spooled);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(versions_match_the_header),
      cmocka_unit_test_setup_teardown(bad_config_is_a_clear_error_and_no_agent, test_setup, test_teardown),
      cmocka_unit_test_setup_teardown(a_second_agent_in_the_process_is_refused, test_setup, test_teardown),
      cmocka_unit_test_setup_teardown(lifecycle_runs_tasks_and_reports_each_result, test_setup, test_teardown),
      cmocka_unit_test_setup_teardown(host_signer_signs_everything_and_no_private_key_is_made, test_setup,
                                      test_teardown),
      cmocka_unit_test_setup_teardown(policy_feed_shows_in_stats_and_pause_holds_work, test_setup, test_teardown),
      cmocka_unit_test_setup_teardown(stop_while_tasks_run_drains_and_returns, test_setup, test_teardown),
  };
  return cmocka_run_group_tests_name("edge_agent C API", tests, group_setup, group_teardown);
}
