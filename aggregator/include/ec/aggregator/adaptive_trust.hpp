// Adaptive replication in BOINC's manner: an agent key earns trust with consecutive valid replicated results,
// a trusted key's work is replicated only with probability 1/n, and one invalid result (a lost quorum or a wrong
// ringer answer) resets it and names the unreplicated results it produced while trusted, for re-issue and clawback.
//
// Trust is kept per agent key, not per principal: trust measures one installation (its device, driver and
// software), and a principal that enrolls many keys must earn trust for each one, so adding keys never buys
// unreplicated work. Quorums still count principals (validation.hpp).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ec/kernels/kernel_spec.hpp"
#include "ec/protocol/error.hpp"
#include "ec/protocol/messages.hpp"

namespace ec::aggregator {

struct trust_config {
  std::uint32_t trust_after = 10;       // consecutive valid replicated results that make a key trusted
  std::uint32_t replicate_one_in = 10;  // n: a trusted key's unit is still replicated with probability 1/n
  double ringer_rate = 0.01;            // fraction of issued tasks that are known-answer ringers (0: none)
};

/// Uniform 64-bit random numbers; injectable so tests (and replays) are deterministic.
using random_source = std::function<std::uint64_t()>;

/// A random_source over std::mt19937_64 seeded with `seed`.
random_source seeded_random(std::uint64_t seed);

/// What the aggregator stores per agent key.
struct agent_trust_state {
  std::uint32_t consecutive_valid = 0;
  bool trusted = false;
  std::vector<std::string> unreplicated;  // unit ids accepted on this key's word alone since it became trusted
  std::uint64_t invalid_total = 0;
  bool operator==(const agent_trust_state&) const = default;
};

/// What a reset asks the caller to do.
struct trust_reset {
  bool was_trusted = false;
  std::uint32_t lost_streak = 0;
  std::vector<std::string> reissue_units;  // unreplicated canonical results to re-validate; claw back their credits
};

class adaptive_trust {
 public:
  explicit adaptive_trust(trust_config config = {}, random_source random = seeded_random(0));

  /// True when the key has earned trust.
  [[nodiscard]] bool is_trusted(const std::string& agent_id) const;
  /// Whether a unit given to this agent must be replicated to a quorum (false: its result alone may be accepted).
  bool needs_replication(const std::string& agent_id);
  /// Whether the next task issued to anyone should be a ringer (true at ringer_rate).
  bool next_is_ringer();

  /// A replicated result of this key agreed with the validated canonical result.
  void record_valid(const std::string& agent_id);
  /// A unit was accepted on this trusted key's result alone (kept for a later clawback).
  void record_unreplicated(const std::string& agent_id, const std::string& unit_id);
  /// A result of this key was invalid (outvoted, or a wrong ringer answer): untrusted again, streak 0.
  trust_reset record_invalid(const std::string& agent_id);

  /// The stored state of a key (default state for an unknown one), and restoring it from storage.
  [[nodiscard]] agent_trust_state state(const std::string& agent_id) const;
  void restore(const std::string& agent_id, agent_trust_state state);
  [[nodiscard]] const trust_config& config() const { return config_; }

 private:
  trust_config config_;
  random_source random_;
  std::map<std::string, agent_trust_state> agents_;
};

/// A known-answer task: the Task template (no ids) and the answer it must produce.
struct ringer {
  protocol::task task;                     // kernel, params, inputs, declared outputs, validation, rtol/atol
  std::vector<protocol::tensor> expected;  // the kernel author's independent known answer
};

/// Builds a ringer from the kernel's known_answer(); fails for a kernel without one.
result<ringer> make_ringer(const kernels::kernel_spec& spec, std::uint32_t max_runtime_ms = 60000);

/// Builds a ringer from a real work unit's Task template: the expected outputs are the kernel's C++ reference
/// (ec_kernels run_reference) run on the template's own inputs, so the ringer looks like ordinary work.
result<ringer> make_reference_ringer(const protocol::task& templ);

/// A ringer's expected outputs as stored with its work unit (a Result blob), and the ringer read back from its
/// unit's payload (the Task template) and that blob.
protocol::bytes encode_ringer_answer(const ringer& r);
result<ringer> decode_ringer(protocol::byte_span payload, protocol::byte_span answer);

/// Whether a ringer's returned outputs are right (kernel's validation mode and tolerance); wrong counts as invalid.
bool ringer_answer_correct(const ringer& r, const std::vector<protocol::tensor>& outputs);

}  // namespace ec::aggregator
