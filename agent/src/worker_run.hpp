// One run request inside a worker: check it against the kernel's spec and the arena, rebuild the bound call
// over the shared inputs, run it on the named device, and place the outputs in the arena.
#pragma once

#include "ec/backends/registry.hpp"
#include "worker_arena.hpp"
#include "worker_frame.hpp"

namespace ec::agent::worker {

/// Runs `req` on its device; every failure becomes a reply (the worker keeps serving).
run_reply run_in_worker(const run_request& req, const backends::registry& devices, shared_arena& arena);

/// Whether [offset, offset + bytes) lies inside an arena of `size` bytes (overflow-safe).
inline bool inside(std::uint64_t offset, std::uint64_t bytes, std::uint64_t size) {
  return offset <= size && bytes <= size - offset;
}

}  // namespace ec::agent::worker
