/* Embeds the edge agent through its C API and prints each result it produces.
 * Usage: embed_agent CONFIG.toml [SECONDS]   (runs SECONDS, default 60, then stops with a drain) */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "edge_agent.h"

static void on_event(void* user, const edge_agent_event* e) {
  (void)user;
  if (e->kind == EDGE_AGENT_EVENT_STATE) {
    printf("state %d (%s)\n", (int)e->state, e->reason);
  } else {
    printf("result %s attempt %u: %s, digest ", e->task_id, e->attempt, e->result_status_name);
    for (int i = 0; i < 8; ++i) printf("%02x", e->result_digest[i]);
    printf("...\n");
  }
  fflush(stdout);
}

static char* read_file(const char* path) {
  FILE* f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  const long size = ftell(f);
  rewind(f);
  char* text = calloc((size_t)size + 1, 1);
  if (text && fread(text, 1, (size_t)size, f) != (size_t)size) text[0] = '\0';
  fclose(f);
  return text;
}

int main(int argc, char** argv) {
  if (argc < 2) return fprintf(stderr, "usage: %s CONFIG.toml [SECONDS]\n", argv[0]), 2;
  char* config = read_file(argv[1]);
  if (!config) return fprintf(stderr, "cannot read %s\n", argv[1]), 1;
  edge_agent* agent = NULL;
  edge_agent_status st = edge_agent_create(config, NULL, &agent);
  free(config);
  if (st != EDGE_AGENT_OK) return fprintf(stderr, "create: %s\n", edge_agent_last_error()), 1;
  char id[80];
  edge_agent_get_id(agent, id, sizeof id);
  printf("agent %s (C API %u)\n", id, edge_agent_api_version());
  edge_agent_set_event_callback(agent, on_event, NULL);
  if ((st = edge_agent_start(agent)) != EDGE_AGENT_OK) {
    fprintf(stderr, "start: %s\n", edge_agent_last_error());
    edge_agent_destroy(agent);
    return 1;
  }
  edge_agent_feed_power(agent, 0, 100.0); /* a phone app feeds these from its own sensors */
  sleep(argc > 2 ? (unsigned)atoi(argv[2]) : 60u);
  edge_agent_stop(agent);
  edge_agent_stats stats = {.struct_size = sizeof stats};
  edge_agent_get_stats(agent, &stats);
  printf("stopped: %llu tasks, %llu results\n", (unsigned long long)stats.tasks_admitted,
         (unsigned long long)stats.results_spooled);
  edge_agent_destroy(agent);
  return 0;
}
