// Validation of one work unit's replicas by quorum across principals: results are grouped by agreement (output
// digest, or element-wise within tolerance) and a group wins with >= quorum distinct principals that are also a
// strict majority of the principals that returned OK results (protocol.md: a quorum counts principals, not keys).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ec/protocol/bytes.hpp"
#include "ec/protocol/messages.hpp"

namespace ec::aggregator {

/// One stored result of a replica of the unit.
struct replica_result {
  std::string agent_id;   // the signing key's agent id
  std::string principal;  // the principal the key is enrolled under
  protocol::result_status status = protocol::result_status::ok;
  std::vector<protocol::tensor> outputs;  // needed in tolerance mode only
  protocol::bytes output_digest;          // recomputed on receipt (receiver check 7)
};

/// The rules for one work unit.
struct validation_policy {
  std::uint32_t quorum = 2;        // distinct principals that must agree
  std::uint32_t max_replicas = 6;  // results of any status before the unit fails (the retry limit)
  protocol::validation_mode mode = protocol::validation_mode::exact;
  double rtol = 0, atol = 0;
};

enum class unit_verdict : std::uint8_t {
  validated,  // `canonical` is the accepted result
  pending,    // wait for in-flight replicas and/or issue `more_replicas` new ones
  failed,     // the retry limit is reached without agreement
};

struct validation_outcome {
  unit_verdict verdict = unit_verdict::pending;
  std::size_t canonical = 0;                    // index into the replicas; meaningful when validated
  std::vector<std::size_t> agreeing;            // OK results in the winning group (validated only)
  std::vector<std::size_t> disagreeing;         // OK results outside it (validated, or all OK ones when failed)
  std::vector<std::size_t> not_ok;              // results with a non-OK status: never counted toward a quorum
  std::vector<std::string> agreeing_agents;     // agent ids of `agreeing` (trust updates and credits)
  std::vector<std::string> disagreeing_agents;  // agent ids of `disagreeing` (trust resets)
  std::vector<std::string> principals_seen;     // distinct principals with any result (for replica exclusion)
  std::uint32_t more_replicas = 0;              // new replicas to issue now (pending only)
  std::string reason;                           // for humans and logs
};

/// One group of mutually agreeing results: its representative (first member) and members, by index.
struct agreement_group {
  std::size_t representative = 0;
  std::vector<std::size_t> members;
  std::vector<std::string> principals;  // distinct
};

/// Groups the OK results: exact mode by output digest; tolerance mode by protocol::compare_tensors of each member
/// against the group's representative (first come, first representative).
std::vector<agreement_group> group_results(std::span<const replica_result> replicas, const validation_policy& policy);

/// True when two results agree under the policy (digests in exact mode, element-wise in tolerance mode; `b` is
/// the reference side of |a - b| <= atol + rtol |b|).
bool results_agree(const replica_result& a, const replica_result& b, const validation_policy& policy);

/// Decides a unit given all results received so far and the replicas still in flight (issued, not answered).
validation_outcome validate_unit(std::span<const replica_result> replicas, std::uint32_t in_flight,
                                 const validation_policy& policy);

}  // namespace ec::aggregator
