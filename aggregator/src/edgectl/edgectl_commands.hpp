// edgectl's commands over the region's database (the operator boundary): each returns the process exit status.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ec/aggregator/sqlite_storage.hpp"

namespace ec::aggregator::edgectl {

/// Where the database and the aggregator's public keys are, from --db / --config / --key.
struct context {
  std::string database;
  std::vector<std::string> key_files;  // public (or private) PEM files whose checkpoints verify_ledger trusts
  bool create = false;                 // submit and enroll may create a fresh database
  std::vector<std::string> code_keys;  // the config's jobs.code_keys: custom jobs must be signed by one of them
};

/// Opens the region database (an existing one unless ctx.create); prints the error and returns null on failure.
std::unique_ptr<sqlite_storage> open_database(const context& ctx);

/// Milliseconds since the Unix epoch.
std::uint64_t wall_ms();

int submit(const context& ctx, const std::string& job_file);
int status(const context& ctx, const std::string& job_id);
int results(const context& ctx, const std::string& job_id, const std::string& out_dir);
int agents(const context& ctx);
int enroll(const context& ctx, const std::string& principal, std::uint32_t key_limit, std::uint32_t expires_days);
int region_control(const context& ctx, std::uint8_t desired_state);
int ledger_verify(const context& ctx);
/// Prints code_key_id and code_signature (hex) of custom kernel code signed with the code key in `key_file`.
int sign_code(const std::string& key_file, const std::string& spirv_file, const std::string& opencl_file,
              const std::string& entry);

}  // namespace ec::aggregator::edgectl
