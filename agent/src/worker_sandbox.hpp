// What a worker does to itself before it loads a driver: idle CPU and I/O priority, a data-segment limit, and a
// Landlock domain that lets it read libraries, drivers and its caches but not the agent's state (its key).
// Where Landlock is absent and the worker runs as root it drops to an unprivileged user instead.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "ec/protocol/error.hpp"

namespace ec::agent::worker {

struct sandbox_options {
  bool idle_priority = true;             // SCHED_IDLE, nice 19, idle I/O class
  std::uint64_t memory_limit_bytes = 0;  // RLIMIT_DATA (not RLIMIT_AS: ASan and GPU drivers reserve huge ranges)
  bool isolate_files = true;  // keep the worker from the agent's files: Landlock, else (root) a separate user
  bool landlock = true;       // use Landlock where the kernel has it; false acts as a kernel without it (tests)
  std::vector<std::filesystem::path> read_paths;   // read and execute (libraries, modules, ICD files)
  std::vector<std::filesystem::path> write_paths;  // read, write, create (caches, /dev/dri)
  std::string fallback_user = "nobody";            // root without Landlock: run as this user (groups render, video)
};

/// What the worker actually got (some steps are best effort, e.g. ioprio in a container).
struct sandbox_report {
  int landlock_abi = 0;  // 0: the kernel has no Landlock
  bool landlocked = false;
  bool memory_limited = false;
  bool idle = false;
  bool user_dropped = false;
  std::string text;  // one line for logs and the Ready frame
};

/// The highest Landlock ABI the running kernel supports (landlock_create_ruleset VERSION query); 0 if none.
int landlock_abi();
/// The paths a worker needs to read: system libraries, driver manifests, /proc, /sys, plus `extra`.
std::vector<std::filesystem::path> default_read_paths(const std::vector<std::filesystem::path>& extra);
/// Applies every step to the calling (still single-threaded) process; fails only when a mandatory step fails.
result<sandbox_report> enter_sandbox(const sandbox_options& options);

}  // namespace ec::agent::worker
