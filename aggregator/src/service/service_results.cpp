// ResultBatches: per-result receiver checks (signer, lease, task_digest, recomputed output digest), then ONE
// storage transaction per batch holding its accepted results and the validation of the units they touch (ledger
// entries, credits, trust). The signed Receipt goes out only after that transaction is durably committed.
#include <algorithm>
#include <map>
#include <set>

#include "ec/aggregator/aggregator_service.hpp"
#include "ec/common/failpoint.hpp"
#include "ec/protocol/digests.hpp"
#include "ec/protocol/envelope.hpp"
#include "ec/protocol/message_views.hpp"

namespace ec::aggregator {
namespace {

bool same(protocol::byte_span a, const sha256_digest& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

// What the receiver checks decided for one Result: a refusal reason, or the task it answers.
struct result_check {
  std::string reason;  // empty: accepted
  std::optional<task_row> task;
};

result_check refuse(std::string reason) { return {std::move(reason), std::nullopt}; }

// The receiver checks of one Result (protocol.md, check 6 on). An error is a storage failure, not a verdict.
result<result_check> check_result(storage& db, const protocol::result_view& v, const std::string& signer) {
  if (v.agent_id() != signer) return refuse("unknown_agent");  // every Result must be the signer's own
  const std::string task_id(v.task_id());
  auto found = db.find_task(task_id, v.attempt());
  if (!found) return found.err();
  if (!found->has_value()) return refuse("unknown_task");
  auto& task = **found;
  if (task.agent_id != signer) return refuse("no_lease");
  if (!same(v.task_digest(), task.task_digest)) return refuse("task_digest_mismatch");
  const auto outputs = v.outputs();
  const auto declared = v.output_digest();
  if ((v.status() == protocol::result_status::ok || !outputs.empty() || !declared.empty()) &&
      !same(declared, protocol::output_digest(outputs)))
    return refuse("output_digest_mismatch");
  // A redelivery of a stored result is accepted again (the agent lost our receipt); a new result for a unit that
  // is already final is not stored: it can no longer change anything.
  auto existing = db.find_result(task_id, v.attempt(), signer);
  if (!existing) return existing.err();
  if (!existing->has_value()) {
    auto wu = db.find_work_unit(task.wu_id);
    if (!wu) return wu.err();
    if (!wu->has_value() || (*wu)->state == work_unit_state::validated || (*wu)->state == work_unit_state::failed)
      return refuse("superseded");
  }
  return result_check{{}, std::move(task)};
}

// The row stored for an accepted Result.
result_row row_of(const protocol::result_view& v, const std::string& signer, std::uint64_t now) {
  result_row r;
  r.task_id = std::string(v.task_id());
  r.attempt = v.attempt();
  r.agent_id = signer;
  r.blob.assign(v.blob().begin(), v.blob().end());
  r.result_digest = v.digest();
  const auto od = v.output_digest();
  if (od.size() == r.output_digest.size()) std::copy(od.begin(), od.end(), r.output_digest.begin());
  r.status = static_cast<std::uint8_t>(v.status());
  r.received_at_ms = now;
  return r;
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
  const auto db_error = [&](const char* what, const error& e) {
    // No receipt: the agent republishes and we try again.
    log_.limited("db_error", log_level::error, "results", what, {{"error", e.what()}});
  };

  // One transaction for the whole batch: the checks read what it writes, and its commit is the batch's one fsync.
  auto tx = db_.begin_batch();
  if (!tx) return db_error("cannot begin the batch", tx.err());

  protocol::receipt receipt;
  receipt.agent_id = signer;
  std::vector<result_row> rows;
  std::vector<std::size_t> entry_of_row;  // receipt entry of each row, to answer conflicts found by the store
  std::set<std::string> touched;
  std::uint64_t refused = 0, newest_issue = 0;
  std::uint32_t ok_count = 0;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const auto v = batch.result(i);
    protocol::receipt_entry e;
    e.task_id = std::string(v.task_id());
    e.attempt = v.attempt();
    const auto digest = v.digest();
    e.result_digest.assign(digest.begin(), digest.end());
    auto check = check_result(db_, v, signer);
    if (!check) return db_error("storage error", check.err());
    e.accepted = check->reason.empty();
    if (!e.accepted) {
      e.reason = check->reason;
      ++refused;
      log_.limited(
          "result_refused:" + signer, log_level::warn, "results", "result refused",
          {{"agent", signer}, {"task", e.task_id}, {"attempt", std::to_string(e.attempt)}, {"reason", e.reason}}, 5);
    } else {
      rows.push_back(row_of(v, signer, now));
      entry_of_row.push_back(receipt.entries.size());
      touched.insert(check->task->wu_id);
      if (v.status() == protocol::result_status::ok) {
        ++ok_count;
        newest_issue = std::max(newest_issue, check->task->issued_at_ms);
      }
    }
    receipt.entries.push_back(std::move(e));
  }

  std::uint64_t stored = 0, redelivered = 0;
  if (!rows.empty()) {
    auto outcomes = db_.store_results(rows);
    if (!outcomes) return db_error("cannot store results", outcomes.err());
    for (std::size_t i = 0; i < outcomes->size(); ++i) {
      const auto& oc = (*outcomes)[i];
      (oc.inserted ? stored : redelivered) += 1;
      // A different Result for an attempt already stored: the first is kept, so the receipt must not say accepted.
      if (!oc.inserted && oc.stored_result_digest != rows[i].result_digest) {
        auto& e = receipt.entries[entry_of_row[i]];
        e.accepted = false;
        e.reason = "conflict: a different result is already stored for this attempt";
        --redelivered;
        ++refused;
      }
    }
  }
  // Validation of the units touched joins the batch's transaction (one savepoint per unit: a unit that cannot be
  // evaluated leaves the others and the results in place; start() or the tick decide it again).
  std::uint64_t validated = 0, failed = 0;
  for (const auto& wu : touched) {
    auto change = validator_.evaluate(wu, now);
    if (!change) {
      log_.limited("validate_failed", log_level::error, "validate", "cannot evaluate",
                   {{"wu", wu}, {"error", change.err().what()}});
      continue;
    }
    if (*change == unit_change::validated) ++validated;
    if (*change == unit_change::failed) ++failed;
  }
  // Durable before the receipt (architecture.md): if this fails, no receipt goes out and the agent republishes.
  if (auto committed = (*tx)->commit(); !committed) return db_error("cannot commit results", committed.err());
  if (!rows.empty()) EC_FAILPOINT("aggregator.after_commit_before_receipt");

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
    counters_.units_validated += validated;
    counters_.units_failed += failed;
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
}

}  // namespace ec::aggregator
