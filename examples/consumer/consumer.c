/* The smallest host application of an installed edgecompute: it checks the library against the header it was
 * built with, shows that a bad configuration is refused with the key named, then creates and destroys a real
 * agent whose state lives in STATE_DIR. Built by CMake (find_package) and by pkg-config (README.md).
 * Usage: edge_agent_consumer STATE_DIR    Exit status 0 when every check passed. */
#include <stdio.h>
#include <string.h>

#include "edge_agent.h"

static int check_versions(void) {
  if (edge_agent_abi_version() != EDGE_AGENT_ABI_VERSION || edge_agent_api_version() != EDGE_AGENT_API_VERSION) {
    fprintf(stderr, "library ABI %u API %u, header ABI %d API %d\n", edge_agent_abi_version(), edge_agent_api_version(),
            EDGE_AGENT_ABI_VERSION, EDGE_AGENT_API_VERSION);
    return 1;
  }
  printf("edge_agent API %u ABI %u\n", edge_agent_api_version(), edge_agent_abi_version());
  return 0;
}

/* A misspelt key must be an error that names it, and no agent may come out. */
static int check_bad_config_refused(void) {
  edge_agent* agent = NULL;
  const edge_agent_status st = edge_agent_create("[agent]\nmax_slotz = 1\n", NULL, &agent);
  printf("bad config: %s: %s\n", edge_agent_status_name(st), edge_agent_last_error());
  if (st != EDGE_AGENT_ERR_CONFIG || agent != NULL || strstr(edge_agent_last_error(), "max_slotz") == NULL) {
    fprintf(stderr, "a misspelt key was not refused with its name\n");
    return 1;
  }
  return 0;
}

static int check_create_destroy(const char* state_dir) {
  char config[1024];
  snprintf(config, sizeof config, "[agent]\nstate_dir = \"%s\"\n", state_dir);
  edge_agent* agent = NULL;
  edge_agent_status st = edge_agent_create(config, NULL, &agent);
  if (st != EDGE_AGENT_OK) {
    fprintf(stderr, "create: %s: %s\n", edge_agent_status_name(st), edge_agent_last_error());
    return 1;
  }
  char id[128];
  st = edge_agent_get_id(agent, id, sizeof id);
  printf("agent id: %s\n", st == EDGE_AGENT_OK ? id : "?");
  const edge_agent_status destroyed = edge_agent_destroy(agent);
  if (st != EDGE_AGENT_OK || destroyed != EDGE_AGENT_OK || strlen(id) == 0) {
    fprintf(stderr, "get_id: %s, destroy: %s\n", edge_agent_status_name(st), edge_agent_status_name(destroyed));
    return 1;
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 2) return fprintf(stderr, "usage: %s STATE_DIR\n", argv[0]), 2;
  if (check_versions() || check_bad_config_refused() || check_create_destroy(argv[1])) return 1;
  printf("consumer: all checks passed\n");
  return 0;
}
