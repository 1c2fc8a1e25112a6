// Custom kernel jobs on the aggregator side: the operator's code keys, the job's code read and checked against
// them, and the job expanded into one unit per input set and grid point. The aggregator never signs code: a job
// carries a signature made offline (`edgectl sign-code`), and one that does not verify with a configured code key
// is refused before anything is stored, so the aggregator cannot become a way to push unsigned code to agents.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ec/aggregator/job_expansion.hpp"
#include "ec/aggregator/job_spec.hpp"
#include "ec/protocol/error.hpp"
#include "ec/protocol/messages.hpp"
#include "ec/protocol/trust_store.hpp"

namespace ec::aggregator {

/// Loads code keys (PEM public keys: `jobs.code_keys`), each trusted for code signatures only.
result<std::unique_ptr<protocol::static_trust_store>> load_code_keys(const std::vector<std::string>& pem_files);

/// Reads the job's code files and checks the code: SPIR-V whole words, the signature made by a key of `code_keys`
/// (null or empty: every custom job is refused).
result<protocol::custom_kernel> load_custom_code(const custom_spec& spec, const protocol::trust_store* code_keys,
                                                 const file_reader& read = read_whole_file);

/// Expands a custom job: its code checked as load_custom_code does, then one unit per input set (none: one unit
/// without inputs) and grid point, each Task and Result within the message cap.
result<std::vector<work_unit>> expand_custom_job(const job_spec& job, const std::string& job_id,
                                                 const protocol::trust_store* code_keys,
                                                 const expansion_limits& limits = {},
                                                 const file_reader& read = read_whole_file);

}  // namespace ec::aggregator
