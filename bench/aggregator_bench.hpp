// Issue 5's aggregator benchmarks, shared by the throughput part (aggregator_bench.cpp) and the adaptive-replication
// simulation (aggregator_bench_sim.cpp): a region database in a folder with simulated agents, each with its own key.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "ec/aggregator/sqlite_storage.hpp"
#include "ec/protocol/signer.hpp"

namespace ec::bench::agg {

namespace fs = std::filesystem;

/// One simulated agent: its own P-256 key (Mbed TLS, the agents' implementation) and principal.
struct sim_agent {
  std::unique_ptr<protocol::signer> key;
  std::string agent_id;
  std::string principal;
};

/// Makes `n` agents, each its own principal "p<i>", and enrolls them (allowlist) in `db`.
std::vector<sim_agent> make_agents(aggregator::storage& db, std::size_t n);

/// Opens a fresh region database at `dir`/region.db (the folder is emptied first).
std::unique_ptr<aggregator::sqlite_storage> fresh_db(const fs::path& dir);

/// Inserts a job of `units` tiny exact-mode work units ("copy" of 16 bytes), quorum `quorum`, cost 1 each.
void add_tiny_job(aggregator::storage& db, const std::string& job_id, std::size_t units, std::uint32_t quorum);

/// Seconds since `t0`.
inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// Validated results per second through the service's result path, with each signer implementation: prints a table.
void run_throughput(const fs::path& dir, std::size_t units);

/// The adaptive-replication simulation (aggregator_bench_sim.cpp): prints its table.
void run_replication_simulation(const fs::path& dir, std::size_t units);

}  // namespace ec::bench::agg
