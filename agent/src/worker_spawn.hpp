// Starting and ending child processes of the agent (workers, the discovery child) with posix_spawn: never fork
// of a threaded process. The child gets the socket as fd 3, the arena (if any) as fd 4, and nothing else.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "ec/protocol/error.hpp"

namespace ec::agent::worker {

/// A running child and the supervisor's end of its socket.
struct child_process {
  pid_t pid = -1;
  int fd = -1;
  [[nodiscard]] bool running() const { return pid > 0; }
};

/// The fd numbers a child finds its channel and arena at (`--fd 3 --arena-fd 4`).
inline constexpr int child_channel_fd = 3;
inline constexpr int child_arena_fd = 4;

/// Spawns `binary worker <args...>` with the channel (and `arena_fd` unless -1) in place; stdin is /dev/null.
result<child_process> spawn_child(const std::string& binary, const std::vector<std::string>& args, int arena_fd);
/// Waits up to `grace` for the child to exit on its own, then SIGKILLs it; reaps it and closes the socket.
/// Returns how it ended: "exited with status 0", "killed by signal 11 (Segmentation fault)".
std::string end_child(child_process& child, std::chrono::milliseconds grace);
/// SIGKILLs the child at once, reaps it and closes the socket.
void kill_child(child_process& child);

}  // namespace ec::agent::worker
