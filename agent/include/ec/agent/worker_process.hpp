// The hidden `edge-agent worker` mode: a worker process that runs kernels for the supervisor (one per resource
// group slot), or a discovery child that probes devices so a hanging driver cannot hang the agent.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace ec::agent {

/// What `edge-agent worker` is told on its command line by the supervisor.
struct worker_args {
  int fd = -1;                      // the socket to the supervisor
  int arena_fd = -1;                // the shared-memory arena (memfd); -1 in discovery mode
  bool discover = false;            // discovery child: probe, report, exit
  std::filesystem::path state_dir;  // caches (cache/, pocl/, device_cache.tsv) live here
  std::filesystem::path module_dir;
  std::vector<std::string> disabled_backends;
  std::string backend_filter, device_filter;  // discovery: the choice's filters
  unsigned cpu_threads = 0;
  std::uint32_t custom_cache_entries = 8;  // compiled custom kernels kept per device (devices.custom_cache_entries)
  std::uint64_t memory_limit_mib = 0;      // RLIMIT_DATA; 0: none
  bool idle_priority = true;
  bool landlock = true;
  bool test_hang = false;  // test builds only (EC_TEST_HOOKS): hang before discovering
};

/// Runs the worker or discovery mode to completion; returns the exit status.
int run_worker_process(const worker_args& args);

}  // namespace ec::agent
