// A unit's results -> validated (ledger, credits, trust), more replicas, or failed.
#include "ec/aggregator/unit_validator.hpp"

#include <algorithm>

#include "ec/aggregator/job_spec.hpp"
#include "ec/aggregator/task_template.hpp"
#include "ec/protocol/message_views.hpp"

namespace ec::aggregator {

unit_validator::unit_validator(storage& db, ledger& book, adaptive_trust& trust, event_log& log)
    : db_(db), ledger_(book), trust_(trust), log_(log) {}

result<job_policy> unit_validator::policy_for(const std::string& job_id) {
  if (const auto it = policies_.find(job_id); it != policies_.end()) return it->second;
  auto job = db_.find_job(job_id);
  if (!job) return job.err();
  if (!job->has_value()) return fail(error_code::invalid_argument, "no job " + job_id);
  job_policy p;
  p.quorum = std::max<std::uint32_t>(1, (*job)->quorum);
  // The retry limit lives in the spec; a spec that no longer parses keeps the default (the job ran with it).
  if (auto spec = parse_job((*job)->spec); spec) {
    p.max_replicas = std::max(spec->max_replicas, p.quorum);
    p.max_attempts = std::max<std::uint32_t>(1, spec->max_attempts);
  }
  if (policies_.size() > 1024) policies_.clear();
  policies_[job_id] = p;
  return p;
}

void unit_validator::load_trust(const agent_key_row& row) {
  if (trust_loaded_.count(row.agent_id) != 0) return;
  trust_loaded_[row.agent_id] = true;
  agent_trust_state s;
  s.consecutive_valid = row.trust_streak;
  s.trusted = row.trusted;
  trust_.restore(row.agent_id, s);
  if (row.trusted) trusted_since_[row.agent_id] = row.trusted_since_ms;
}

void unit_validator::persist_trust(const std::string& agent_id, std::uint64_t now_ms) {
  const auto s = trust_.state(agent_id);
  auto& since = trusted_since_[agent_id];
  if (s.trusted && since == 0) since = now_ms;
  if (!s.trusted) since = 0;
  if (auto r = db_.set_trust(agent_id, s.consecutive_valid, s.trusted, since); !r)
    log_.write(log_level::warn, "trust", "cannot store trust", {{"agent", agent_id}, {"error", r.err().what()}});
}

void unit_validator::on_invalid(const std::string& agent_id, const std::string& wu_id, std::uint64_t now_ms) {
  const auto since = trusted_since_[agent_id];
  const auto reset = trust_.record_invalid(agent_id);
  persist_trust(agent_id, now_ms);
  log_.write(log_level::warn, "trust", "invalid result",
             {{"agent", agent_id}, {"wu", wu_id}, {"was_trusted", reset.was_trusted ? "true" : "false"}});
  if (!reset.was_trusted) return;
  // Caught while trusted (BOINC's rule): what it validated alone since then is validated again by quorum, and
  // what it earned since then is taken back.
  reissue_unreplicated(agent_id, since, now_ms);
  auto clawed = db_.claw_back(agent_id, since, "invalid result while trusted on " + wu_id, now_ms);
  if (!clawed) {
    log_.write(log_level::error, "trust", "clawback failed", {{"agent", agent_id}, {"error", clawed.err().what()}});
    return;
  }
  log_.write(log_level::warn, "trust", "credits clawed back",
             {{"agent", agent_id}, {"amount", std::to_string(*clawed)}});
}

void unit_validator::reissue_unreplicated(const std::string& agent_id, std::uint64_t since_ms, std::uint64_t now_ms) {
  auto units = db_.unreplicated_validations(agent_id, since_ms);
  if (!units) {
    log_.write(log_level::error, "trust", "cannot list unreplicated units", {{"error", units.err().what()}});
    return;
  }
  for (const auto& u : *units) {
    auto wu = db_.find_work_unit(u);
    if (!wu || !wu->has_value()) continue;
    auto policy = policy_for((*wu)->job_id);
    const std::uint32_t quorum = policy ? policy->quorum : 2;
    if (auto r = db_.reopen_work_unit(u, quorum, now_ms); !r) {
      log_.write(log_level::error, "trust", "cannot re-issue", {{"wu", u}, {"error", r.err().what()}});
    } else if (*r) {
      log_.write(log_level::warn, "trust", "unreplicated result re-issued for validation",
                 {{"agent", agent_id}, {"wu", u}});
    }
  }
}

result<unit_change> unit_validator::fail_unit(const std::string& wu_id, const std::string& reason,
                                              std::uint64_t now_ms) {
  if (auto r = db_.fail_work_unit(wu_id, reason, now_ms); !r) {
    auto again = db_.find_work_unit(wu_id);
    if (again && again->has_value() && (*again)->state != work_unit_state::pending &&
        (*again)->state != work_unit_state::running)
      return unit_change::already_final;
    return r.err();
  }
  log_.write(log_level::warn, "validate", "work unit failed", {{"wu", wu_id}, {"why", reason}});
  return unit_change::failed;
}

result<unit_change> unit_validator::on_lease_expired(const expired_task& task, std::uint64_t now_ms) {
  auto wu = db_.find_work_unit(task.wu_id);
  if (!wu) return wu.err();
  if (!wu->has_value()) return fail(error_code::invalid_argument, "no work unit " + task.wu_id);
  const auto& unit = **wu;
  if (unit.state == work_unit_state::validated || unit.state == work_unit_state::failed)
    return unit_change::already_final;
  if (!unit.ringer_answer.empty()) {
    // A ringer is made for one batch and never offered again; an unanswered one proves nothing either way.
    auto settled = db_.settle_ringer(task.wu_id, false, "ringer lease expired", now_ms);
    if (!settled) return settled.err();
    return *settled ? unit_change::failed : unit_change::already_final;
  }
  auto policy = policy_for(unit.job_id);
  if (!policy) return policy.err();
  auto tasks = db_.tasks_for_work_unit(task.wu_id);
  if (!tasks) return tasks.err();
  const auto expiries = static_cast<std::uint32_t>(std::count_if(tasks->begin(), tasks->end(), [&](const task_row& t) {
    return t.task_id == task.task_id && t.state == task_state::expired;
  }));
  if (expiries < policy->max_attempts) return unit_change::none;
  return fail_unit(task.wu_id,
                   "task " + task.task_id + ": lease expired " + std::to_string(expiries) + " times (max_attempts " +
                       std::to_string(policy->max_attempts) + ")",
                   now_ms);
}

result<unit_change> unit_validator::evaluate_ringer(const work_unit_row& wu, std::uint64_t now_ms) {
  auto stored = db_.results_for_work_unit(wu.wu_id);
  if (!stored) return stored.err();
  auto ring = decode_ringer(wu.payload, wu.ringer_answer);
  for (const auto& s : *stored) {
    if (s.result.status != 0) continue;
    auto got = decode_stored_result(s.result.blob);
    const bool right = ring && got && ringer_answer_correct(*ring, got->outputs);
    auto settled = db_.settle_ringer(wu.wu_id, right, "wrong ringer answer from " + s.result.agent_id, now_ms);
    if (!settled) return settled.err();
    if (!*settled) return unit_change::already_final;
    if (!ring) {
      // Our own stored answer is unreadable: the agent is not to blame.
      log_.write(log_level::error, "trust", "ringer answer unreadable", {{"wu", wu.wu_id}});
      return unit_change::failed;
    }
    log_.write(right ? log_level::info : log_level::warn, "trust", right ? "ringer passed" : "ringer failed",
               {{"agent", s.result.agent_id}, {"wu", wu.wu_id}});
    if (right) {
      trust_.record_valid(s.result.agent_id);  // a known answer checks as well as a quorum does
      persist_trust(s.result.agent_id, now_ms);
    } else {
      on_invalid(s.result.agent_id, wu.wu_id, now_ms);
    }
    return right ? unit_change::validated : unit_change::failed;
  }
  if (stored->empty()) return unit_change::none;
  // Only non-Ok answers (Rejected, Unsupported, ...): no verdict on the agent, and the ringer is not re-issued.
  auto settled = db_.settle_ringer(wu.wu_id, false, "ringer not answered", now_ms);
  if (!settled) return settled.err();
  return *settled ? unit_change::failed : unit_change::already_final;
}

result<unit_change> unit_validator::commit_validation(const work_unit_row& wu,
                                                      const std::vector<replica_result>& replicas,
                                                      const validation_outcome& outcome, std::uint64_t now_ms) {
  const auto& canon = replicas[outcome.canonical];
  validation_commit c;
  c.wu_id = wu.wu_id;
  if (canon.output_digest.size() != c.canonical_digest.size())
    return fail(error_code::malformed, "canonical result of " + wu.wu_id + " has no 32-byte output digest");
  std::copy(canon.output_digest.begin(), canon.output_digest.end(), c.canonical_digest.begin());
  for (const auto i : outcome.agreeing) {
    c.principals.push_back(replicas[i].principal);
    c.credits.push_back({replicas[i].principal, replicas[i].agent_id, static_cast<std::int64_t>(wu.cost)});
  }
  c.now_ms = now_ms;
  auto entry = ledger_.record_validation(c);
  if (!entry) return entry.err();
  if (!entry->has_value()) return unit_change::already_final;
  log_.write(log_level::info, "validate", "work unit validated",
             {{"wu", wu.wu_id}, {"ledger_seq", std::to_string((*entry)->seq)}, {"why", outcome.reason}});
  // Only a result checked against another principal's earns trust; one accepted alone is remembered instead.
  const bool replicated = canonical_principals(c.principals).size() >= 2;
  for (const auto& a : outcome.agreeing_agents) {
    if (replicated) trust_.record_valid(a);
    if (!replicated && trust_.is_trusted(a)) trust_.record_unreplicated(a, wu.wu_id);
    persist_trust(a, now_ms);
  }
  for (const auto& a : outcome.disagreeing_agents) on_invalid(a, wu.wu_id, now_ms);
  return unit_change::validated;
}

result<unit_change> unit_validator::evaluate(const std::string& wu_id, std::uint64_t now_ms) {
  auto wu_row = db_.find_work_unit(wu_id);
  if (!wu_row) return wu_row.err();
  if (!wu_row->has_value()) return fail(error_code::invalid_argument, "no work unit " + wu_id);
  const auto& wu = **wu_row;
  if (wu.state == work_unit_state::validated || wu.state == work_unit_state::failed) return unit_change::already_final;
  if (!wu.ringer_answer.empty()) return evaluate_ringer(wu, now_ms);
  auto policy_r = policy_for(wu.job_id);
  if (!policy_r) return policy_r.err();
  auto templ = decode_task_template(wu.payload);
  if (!templ) return templ.err();

  validation_policy policy;
  policy.quorum = policy_r->quorum;
  policy.max_replicas = policy_r->max_replicas;
  policy.mode = templ->validation;
  policy.rtol = templ->rtol;
  policy.atol = templ->atol;
  if (!wu.single_agent.empty()) {
    // Leased unreplicated to a trusted key: its lone result may be canonical, unless the key was caught since.
    if (!trust_.is_trusted(wu.single_agent)) {
      if (auto r = db_.reopen_work_unit(wu_id, policy.quorum, now_ms); !r) return r.err();
      log_.write(log_level::info, "validate", "key no longer trusted: unit replicated",
                 {{"wu", wu_id}, {"agent", wu.single_agent}});
      return unit_change::more_replicas;
    }
    policy.quorum = 1;
  }

  auto stored = db_.results_for_work_unit(wu_id);
  if (!stored) return stored.err();
  auto tasks = db_.tasks_for_work_unit(wu_id);
  if (!tasks) return tasks.err();
  const auto in_flight = static_cast<std::uint32_t>(
      std::count_if(tasks->begin(), tasks->end(), [](const task_row& t) { return t.state == task_state::leased; }));

  std::vector<replica_result> replicas;
  replicas.reserve(stored->size());
  for (const auto& s : *stored) {
    replica_result r;
    r.agent_id = s.result.agent_id;
    r.principal = s.principal;
    r.status = static_cast<protocol::result_status>(s.result.status);
    r.output_digest.assign(s.result.output_digest.begin(), s.result.output_digest.end());
    if (policy.mode == protocol::validation_mode::tolerance && r.status == protocol::result_status::ok) {
      auto decoded = decode_stored_result(s.result.blob);
      if (!decoded) {
        // A row that no longer verifies cannot vote; it still counts toward the retry limit.
        r.status = protocol::result_status::kernel_error;
      } else {
        r.outputs = std::move(decoded->outputs);
      }
    }
    replicas.push_back(std::move(r));
  }

  const auto outcome = validate_unit(replicas, in_flight, policy);
  switch (outcome.verdict) {
    case unit_verdict::validated:
      return commit_validation(wu, replicas, outcome, now_ms);
    case unit_verdict::pending: {
      if (outcome.more_replicas == 0) return unit_change::none;
      const auto wanted = wu.live_replicas + outcome.more_replicas;
      if (wanted <= wu.replicas_wanted) return unit_change::none;
      if (auto r = db_.set_replicas_wanted(wu_id, wanted); !r) return r.err();
      log_.write(log_level::info, "validate", "more replicas",
                 {{"wu", wu_id}, {"wanted", std::to_string(wanted)}, {"why", outcome.reason}});
      return unit_change::more_replicas;
    }
    case unit_verdict::failed:
      return fail_unit(wu_id, outcome.reason, now_ms);
  }
  return unit_change::none;
}

}  // namespace ec::aggregator
