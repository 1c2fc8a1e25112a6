// Results leave in signed batches (up to result_batch_max results or result_batch_ms), each durable in the spool
// before it is published and kept until a signed receipt with matching digests releases it. Receipts and
// Controls from the aggregator are applied here too.
#include <algorithm>

#include "ec/agent/agent_runtime.hpp"
#include "ec/agent/log.hpp"
#include "ec/common/failpoint.hpp"
#include "ec/protocol/envelope.hpp"
#include "ec/protocol/message_views.hpp"

namespace ec::agent {
namespace {

constexpr std::string_view component = "results";
constexpr std::uint64_t batch_overhead = 8 * 1024;  // envelope, signature, batch table, per-blob offsets

}  // namespace

void agent_runtime::add_result(result_entry entry, protocol::bytes blob) {
  bool full;
  {
    std::lock_guard lock(mu_);
    if (pending_.empty()) oldest_pending_ms_ = now();
    pending_bytes_ += blob.size();
    pending_.push_back({std::move(entry), std::move(blob)});
    full = pending_.size() >= parts_.config->agent.result_batch_max ||
           pending_bytes_ + batch_overhead >= parts_.config->broker.max_payload_bytes;
  }
  if (full) flush_results(true);
  changed_.notify_all();
}

void agent_runtime::flush_results(bool force) {
  std::vector<pending_result> take;
  {
    std::lock_guard lock(mu_);
    if (pending_.empty()) return;
    if (!force && pending_.size() < parts_.config->agent.result_batch_max &&
        now() - oldest_pending_ms_ < parts_.config->agent.result_batch_ms)
      return;
    // As many results as fit one message; the rest wait for the next batch.
    std::uint64_t total = batch_overhead;
    std::size_t n = 0;
    while (n < pending_.size() && n < protocol::max_blobs_per_batch &&
           (n == 0 || total + pending_[n].blob.size() <= parts_.config->broker.max_payload_bytes))
      total += pending_[n++].blob.size();
    take.assign(std::make_move_iterator(pending_.begin()), std::make_move_iterator(pending_.begin() + static_cast<std::ptrdiff_t>(n)));
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
    pending_bytes_ = 0;
    for (const auto& p : pending_) pending_bytes_ += p.blob.size();
    oldest_pending_ms_ = now();
  }
  protocol::result_batch batch;
  batch.agent_id = agent_id_;
  batch.sent_at_ms = now();
  std::vector<result_entry> entries;
  for (auto& p : take) {
    entries.push_back(p.entry);
    batch.results.push_back(p.blob);
  }
  auto sealed = protocol::seal(protocol::message_kind::result_batch, protocol::build(batch), topics_.prefix(), *parts_.signer);
  auto spooled = sealed ? parts_.spool->spool(*sealed, entries, now()) : result<std::uint64_t>(sealed.err());
  if (!spooled) {
    // Not durable, so not published: keep the results and try again on the next tick.
    log(log_level::error, component, "cannot spool a result batch", {{"error", spooled.err().what()}});
    std::lock_guard lock(mu_);
    pending_.insert(pending_.begin(), std::make_move_iterator(take.begin()), std::make_move_iterator(take.end()));
    for (const auto& p : take) pending_bytes_ += p.blob.size();
    return;
  }
  {
    std::lock_guard lock(mu_);
    stats_.results_spooled += take.size();
    ++stats_.batches_published;
  }
  if (parts_.on_result_spooled)
    for (const auto& p : take) parts_.on_result_spooled(p.entry, p.blob);
  write_status_file(true);  // before publishing: whoever sees the results can trust the status to count them
  EC_FAILPOINT("agent.after_journal_before_publish");
  if (auto r = parts_.session->publish(topics_.results(), *sealed, 1); !r)
    log_remote(log_level::warn, component, "result batch queued for republish", {{"error", r.err().what()}});
}

void agent_runtime::republish_due() {
  for (auto& b : parts_.spool->due(now())) {
    if (auto r = parts_.session->publish(topics_.results(), b.envelope, 1); !r) break;  // queue full: later
    std::lock_guard lock(mu_);
    ++stats_.batches_republished;
  }
  static thread_local std::uint64_t last_dead_letter_check = 0;
  if (now() - last_dead_letter_check > 60'000) {
    last_dead_letter_check = now();
    auto dead = parts_.spool->dead_letter(now());
    if (!dead) {
      log(log_level::error, component, "cannot move expired batches to the dead letters", {{"error", dead.err().what()}});
    } else {
      for (const auto& d : *dead)
        log(log_level::warn, component, "result batch past its TTL moved to the dead letters",
            {{"batch_id", d.batch_id}, {"file", d.file.string()}});
    }
  }
}

void agent_runtime::handle_receipt(std::span<const std::uint8_t> payload) {
  auto opened = open_message(payload, protocol::message_kind::receipt, agent_id_);
  if (!opened) return;
  EC_FAILPOINT("agent.after_publish_before_receipt");  // the aggregator has our batch; we have not released it
  const auto r = protocol::receipt_view(opened->body).decode();
  {
    std::lock_guard lock(mu_);
    clock_.observe(r.sent_at_ms, now());
  }
  std::vector<receipt_entry> entries;
  for (const auto& e : r.entries) {
    receipt_entry x{e.task_id, e.attempt, {}, e.accepted, e.reason};
    if (e.result_digest.size() == x.result_digest.size())
      std::copy(e.result_digest.begin(), e.result_digest.end(), x.result_digest.begin());
    entries.push_back(std::move(x));
  }
  auto report = parts_.spool->release(entries);
  if (!report) return log(log_level::error, component, "cannot apply a receipt", {{"error", report.err().what()}});
  {
    std::lock_guard lock(mu_);
    stats_.batches_released += report->released.size();
  }
  if (!report->released.empty()) write_status_file(true);
  if (report->mismatched)
    log_remote(log_level::warn, component, "receipt digests do not match our results", {{"count", report->mismatched}});
  maybe_request_work();  // spool room may have come back
}

void agent_runtime::handle_control(std::span<const std::uint8_t> payload, bool region_wide) {
  auto opened = open_message(payload, protocol::message_kind::control, region_wide ? std::string_view() : agent_id_);
  if (!opened) return;
  const auto c = protocol::control_view(opened->body).decode();
  {
    std::lock_guard lock(mu_);
    clock_.observe(c.sent_at_ms, now());
    if (c.seq <= last_control_seq_) {
      ++stats_.controls_stale;
      return;
    }
  }
  // The seq is durable before the control takes effect: a replayed old control can never be applied again.
  if (auto r = parts_.journal_store->write({control_seq{c.seq}}); !r)
    return log(log_level::error, component, "cannot journal a control", {{"error", r.err().what()}});
  {
    std::lock_guard lock(mu_);
    last_control_seq_ = c.seq;
    ++stats_.controls_applied;
  }
  for (const auto& id : c.cancel_task_ids) parts_.exec->cancel(id);
  apply_state(c.desired_state);
  log(log_level::info, component, "control applied",
      {{"seq", c.seq}, {"state", static_cast<std::uint64_t>(c.desired_state)}, {"region_wide", region_wide}});
  publish_hello();
  maybe_request_work();
}

void agent_runtime::apply_state(protocol::agent_state desired) {
  {
    std::lock_guard lock(mu_);
    state_ = desired;
  }
  sync_executor_pause();  // paused while this Control or the owner policy says so
  if (desired == protocol::agent_state::drain) parts_.exec->drain();
  if (parts_.on_state_applied) parts_.on_state_applied(desired);
}

}  // namespace ec::agent
