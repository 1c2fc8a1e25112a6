// ResultBatches: per-result receiver checks (signer, lease, task_digest, recomputed output digest), one durable
// store of the batch BEFORE the signed Receipt, then validation of the units touched.
#include <algorithm>
#include <map>
#include <set>

#include "ec/aggregator/aggregator_service.hpp"
#include "ec/protocol/digests.hpp"
#include "ec/protocol/envelope.hpp"
#include "ec/protocol/message_views.hpp"

namespace ec::aggregator {
namespace {

bool same(protocol::byte_span a, const sha256_digest& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

}  // namespace

void aggregator_service::handle_result_batch(protocol::byte_span payload, bool replay) {
  auto env = open_agent_message(payload, protocol::message_kind::result_batch, topics_.results(), "results");
  if (!env) return;
  if (!replay) {
    std::lock_guard lk(mu_);
    ++counters_.result_batches;
  }
  const std::string signer = env->signer_agent_id;
  const protocol::result_batch_view batch(*env);
  const auto now = now_ms();

  protocol::receipt receipt;
  receipt.agent_id = signer;
  std::vector<result_row> rows;
  std::vector<std::size_t> row_entry;  // receipt entry of each row
  std::set<std::string> touched;
  std::uint64_t refused = 0;
  std::uint64_t newest_issue = 0;
  std::uint32_t ok_count = 0;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const auto v = batch.result(i);
    protocol::receipt_entry e;
    e.task_id = std::string(v.task_id());
    e.attempt = v.attempt();
    const auto digest = v.digest();
    e.result_digest.assign(digest.begin(), digest.end());
    std::string reason;
    std::optional<task_row> task;
    if (v.agent_id() != signer) {
      reason = "unknown_agent";  // every Result must be the signer's own (protocol.md, check 6)
    } else if (auto t = db_.find_task(e.task_id, e.attempt); !t) {
      log_.limited("db_error", log_level::error, "results", "storage error", {{"error", t.err().what()}});
      return;  // no receipt: the agent republishes and we try again
    } else if (!t->has_value()) {
      reason = "unknown_task";
    } else if ((*t)->agent_id != signer) {
      reason = "no_lease";
    } else if (!same(v.task_digest(), (*t)->task_digest)) {
      reason = "task_digest_mismatch";
    } else {
      task = std::move(**t);
      const auto outputs = v.outputs();
      const auto declared = v.output_digest();
      if ((v.status() == protocol::result_status::ok || !outputs.empty() || !declared.empty()) &&
          !same(declared, protocol::output_digest(outputs)))
        reason = "output_digest_mismatch";
    }
    if (reason.empty()) {
      // A redelivery of a stored result is accepted again (the agent lost our receipt); a new result for a unit
      // that is already final is not stored: it can no longer change anything.
      auto existing = db_.find_result(e.task_id, e.attempt, signer);
      if (!existing) return;
      if (!existing->has_value()) {
        auto wu = db_.find_work_unit(task->wu_id);
        if (!wu) return;
        if (!wu->has_value() || (*wu)->state == work_unit_state::validated || (*wu)->state == work_unit_state::failed)
          reason = "superseded";
      }
    }
    if (!reason.empty()) {
      e.accepted = false;
      e.reason = reason;
      ++refused;
      log_.limited("result_refused:" + signer, log_level::warn, "results", "result refused",
                   {{"agent", signer}, {"task", e.task_id}, {"attempt", std::to_string(e.attempt)}, {"reason", reason}},
                   5);
    } else {
      e.accepted = true;
      result_row r;
      r.task_id = e.task_id;
      r.attempt = e.attempt;
      r.agent_id = signer;
      r.blob.assign(v.blob().begin(), v.blob().end());
      r.result_digest = digest;
      const auto od = v.output_digest();
      if (od.size() == r.output_digest.size()) std::copy(od.begin(), od.end(), r.output_digest.begin());
      r.status = static_cast<std::uint8_t>(v.status());
      r.received_at_ms = now;
      rows.push_back(std::move(r));
      row_entry.push_back(receipt.entries.size());
      touched.insert(task->wu_id);
      if (v.status() == protocol::result_status::ok) {
        ++ok_count;
        newest_issue = std::max(newest_issue, task->issued_at_ms);
      }
    }
    receipt.entries.push_back(std::move(e));
  }

  std::uint64_t stored = 0, redelivered = 0;
  if (!rows.empty()) {
    // Durable before the receipt (architecture.md): if this fails, no receipt goes out and the agent republishes.
    auto outcomes = db_.store_results(rows);
    if (!outcomes) {
      log_.limited("db_error", log_level::error, "results", "cannot store results", {{"error", outcomes.err().what()}});
      return;
    }
    for (const auto& oc : *outcomes) (oc.inserted ? stored : redelivered) += 1;
  }
  if (!receipt.entries.empty()) {
    receipt.sent_at_ms = now;
    const auto body = protocol::build(receipt);
    auto sealed = protocol::seal(protocol::message_kind::receipt, body, topics_.prefix(), key_);
    if (!sealed) {
      log_.limited("seal_failed", log_level::error, "results", "cannot sign receipt", {{"error", sealed.err().what()}});
    } else {
      publish(topics_.receipts(signer), *sealed, false, 0, "receipt");
      std::lock_guard lk(mu_);
      ++counters_.receipts_sent;
    }
  }
  {
    std::lock_guard lk(mu_);
    counters_.results_stored += stored;
    counters_.results_redelivered += redelivered;
    counters_.results_refused += refused;
  }
  if (stored > 0) {
    log_.write(log_level::info, "results", "results stored",
               {{"agent", signer},
                {"stored", std::to_string(stored)},
                {"redelivered", std::to_string(redelivered)},
                {"refused", std::to_string(refused)}});
  }
  if (ok_count > 0 && stored > 0 && newest_issue > 0 && now > newest_issue) {
    // Observed throughput from our own clock only (numbers from agents are not trusted).
    speed_.observe_batch(signer, now - newest_issue, ok_count);
    if (auto a = agents_.find(signer); a != agents_.end()) a->second.results_returned += ok_count;
  }
  for (const auto& wu : touched) {
    auto change = validator_.evaluate(wu, now);
    if (!change) {
      log_.limited("validate_failed", log_level::error, "validate", "cannot evaluate",
                   {{"wu", wu}, {"error", change.err().what()}});
      continue;
    }
    std::lock_guard lk(mu_);
    if (*change == unit_change::validated) ++counters_.units_validated;
    if (*change == unit_change::failed) ++counters_.units_failed;
  }
}

}  // namespace ec::aggregator
