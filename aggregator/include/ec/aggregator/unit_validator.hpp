// Deciding one work unit from its stored results: quorum across principals (validation.hpp), then the ledger entry
// with credits, adaptive-trust updates (a caught trusted key has its unreplicated units re-opened and its credits
// clawed back), more replicas on disagreement, or failure at the retry limit. Ringer units are decided against
// their known answer, units leased unreplicated to a trusted key on its lone result. Independent of MQTT, so tests
// drive it over a database.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "ec/aggregator/adaptive_trust.hpp"
#include "ec/aggregator/event_log.hpp"
#include "ec/aggregator/ledger.hpp"
#include "ec/aggregator/storage.hpp"
#include "ec/aggregator/validation.hpp"

namespace ec::aggregator {

/// What evaluate() did to the unit.
enum class unit_change : std::uint8_t { none, validated, more_replicas, failed, already_final };

/// Per-job validation rules, read from the job row and its spec.
struct job_policy {
  std::uint32_t quorum = 2;
  std::uint32_t max_replicas = 6;
  std::uint32_t max_attempts = 3;  // lease expiries of one task before the unit fails
};

class unit_validator {
 public:
  unit_validator(storage& db, ledger& book, adaptive_trust& trust, event_log& log);

  /// Re-reads the unit's results and decides it; safe to call any number of times (storage makes it idempotent).
  result<unit_change> evaluate(const std::string& wu_id, std::uint64_t now_ms);

  /// A lease expired: fails the unit once the task's attempts reach the job's max_attempts (a ringer at once).
  result<unit_change> on_lease_expired(const expired_task& task, std::uint64_t now_ms);

  /// Loads a key's stored trust into the in-memory state once (before its first use).
  void load_trust(const agent_key_row& row);

 private:
  result<job_policy> policy_for(const std::string& job_id);
  void persist_trust(const std::string& agent_id, std::uint64_t now_ms);
  void on_invalid(const std::string& agent_id, const std::string& wu_id, std::uint64_t now_ms);
  void reissue_unreplicated(const std::string& agent_id, std::uint64_t since_ms, std::uint64_t now_ms);
  result<unit_change> evaluate_ringer(const work_unit_row& wu, std::uint64_t now_ms);
  result<unit_change> commit_validation(const work_unit_row& wu, const std::vector<replica_result>& replicas,
                                        const validation_outcome& outcome, std::uint64_t now_ms);
  result<unit_change> fail_unit(const std::string& wu_id, const std::string& reason, std::uint64_t now_ms);

  storage& db_;
  ledger& ledger_;
  adaptive_trust& trust_;
  event_log& log_;
  std::map<std::string, job_policy> policies_;
  std::map<std::string, std::uint64_t> trusted_since_;  // agent -> when it became trusted
  std::map<std::string, bool> trust_loaded_;
};

}  // namespace ec::aggregator
