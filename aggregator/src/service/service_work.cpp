// WorkRequests: receiver checks, a repeated request_id answered with the stored batch bytes, and long-polling:
// a request with no work is held and answered on a later tick as soon as a lease can be made.
#include <algorithm>

#include "ec/aggregator/aggregator_service.hpp"
#include "ec/aggregator/task_template.hpp"
#include "ec/protocol/digests.hpp"
#include "ec/protocol/envelope.hpp"
#include "ec/protocol/message_views.hpp"

namespace ec::aggregator {
namespace {

constexpr std::size_t max_request_id = 128;
// The agent's admission refuses tasks valid for longer than 24 h (protocol.md, Task checks): stay inside it.
constexpr std::uint64_t max_validity_ms = 24ULL * 3600 * 1000 - 60'000;

}  // namespace

void aggregator_service::handle_work_request(protocol::byte_span payload, bool replay) {
  auto env = open_agent_message(payload, protocol::message_kind::work_request, topics_.work(), "work");
  if (!env) return;
  const protocol::work_request_view view(env->body);
  const auto agent_id = env->signer_agent_id;  // open() checked the body's agent_id against the signer
  const std::string request_id(view.request_id());
  const auto now = now_ms();
  if (request_id.empty() || request_id.size() > max_request_id) {
    std::lock_guard lk(mu_);
    ++counters_.messages_rejected;
    return;
  }
  {
    std::lock_guard lk(mu_);
    ++counters_.work_requests;
  }
  // A repeated request_id gets the same TaskBatch bytes again, never new leases.
  auto stored = db_.find_batch(agent_id, request_id);
  if (!stored) {
    log_.limited("db_error", log_level::error, "work", "storage error", {{"error", stored.err().what()}});
    return;
  }
  if (stored->has_value()) {
    {
      std::lock_guard lk(mu_);
      ++counters_.work_requests_repeated;
      ++counters_.task_batches_sent;
    }
    publish(topics_.tasks(agent_id), **stored, false, options_.task_message_expiry_s, "task batch (repeat)");
    return;
  }
  const auto sent = view.sent_at_ms();
  const auto skew = sent > now ? sent - now : now - sent;
  if (skew > options_.max_clock_skew_ms && !replay) {
    std::lock_guard lk(mu_);
    ++counters_.messages_rejected;
    log_.limited("work_skew", log_level::warn, "work", "work request outside the clock skew",
                 {{"agent", agent_id}, {"skew_ms", std::to_string(skew)}});
    return;
  }
  // Numbers from agents are clamped to server limits before use.
  auto req = view.decode();
  req.free_slots = std::min(req.free_slots, options_.max_tasks_per_batch);
  req.max_tasks = std::min(req.max_tasks, options_.max_tasks_per_batch);
  const auto cap = static_cast<std::uint32_t>(std::min<std::uint64_t>(options_.max_payload, UINT32_MAX));
  req.max_batch_bytes = req.max_batch_bytes == 0 ? cap : std::clamp<std::uint32_t>(req.max_batch_bytes, 4096, cap);
  auto& h = held_[agent_id];
  if (h.request.request_id != request_id) h.held_since_ms = now;
  h.request = std::move(req);
  if (!try_answer(agent_id, now))
    log_.write(log_level::debug, "work", "request held (no work)", {{"agent", agent_id}, {"request", request_id}});
}

void aggregator_service::answer_held(std::uint64_t now) {
  if (held_.empty()) return;
  auto leasable = db_.count_leasable(now);
  if (!leasable || *leasable == 0) return;
  std::vector<std::string> ids;
  for (const auto& [agent, h] : held_) ids.push_back(agent);
  for (const auto& a : ids) (void)try_answer(a, now);
}

bool aggregator_service::try_answer(const std::string& agent_id, std::uint64_t now) {
  const auto h = held_.find(agent_id);
  if (h == held_.end()) return false;
  const auto a = agents_.find(agent_id);
  if (a == agents_.end() || !a->second.profile.online) return false;  // its hello will come; keep it held
  const auto& profile = a->second.profile;
  const auto& req = h->second.request;

  agent_activity activity{speed_.get(agent_id), a->second.results_returned};
  const auto want = std::max<std::uint32_t>(1, batch_size(options_.matching, req, activity));
  lease_query q;
  q.agent_id = agent_id;
  q.principal = profile.principal;
  q.kernels = lease_kernel_names(profile);  // custom code only where a device of its backend accepts it
  q.max_tasks = want;
  q.now_ms = now;
  auto candidates = db_.find_leasable(q);
  if (!candidates) {
    log_.limited("db_error", log_level::error, "work", "storage error", {{"error", candidates.err().what()}});
    return false;
  }
  if (candidates->empty()) return false;

  const std::uint64_t byte_cap = std::min<std::uint64_t>(req.max_batch_bytes, options_.max_payload);
  std::vector<task_row> rows;
  std::vector<protocol::bytes> blobs;
  std::uint64_t total = 2048;  // envelope, signature, batch table, ids
  const auto tp = speed_.get(agent_id);
  for (const auto& c : *candidates) {
    auto templ = decode_task_template(c.payload);
    if (!templ) {
      log_.limited("bad_template", log_level::error, "work", "stored task template unreadable",
                   {{"wu", c.wu_id}, {"error", templ.err().what()}});
      continue;
    }
    if (!agent_can_run(profile, pending_unit_of(c.wu_id, *templ))) continue;
    protocol::task t = std::move(*templ);
    t.task_id = c.task_id;
    t.attempt = c.attempt;
    t.agent_id = agent_id;
    t.issued_at_ms = now;
    const auto lease_ms = std::min(
        max_validity_ms,
        lease_duration_ms(options_.leases, tp, static_cast<std::uint32_t>(candidates->size()), t.max_runtime_ms));
    t.expires_at_ms = now + lease_ms;
    auto blob = protocol::build(t);
    if (!blobs.empty() && total + blob.size() + 64 > byte_cap) break;
    total += blob.size() + 64;
    task_row row;
    row.task_id = t.task_id;
    row.attempt = t.attempt;
    row.wu_id = c.wu_id;
    row.agent_id = agent_id;
    row.issued_at_ms = now;
    row.lease_expires_ms = t.expires_at_ms;
    row.task_digest = protocol::task_digest(blob);
    row.blob = blob;
    // Adaptive trust: a trusted key's never-issued unit is replicated only with probability 1/n.
    row.single = trust_.is_trusted(agent_id) && !trust_.needs_replication(agent_id);
    rows.push_back(std::move(row));
    blobs.push_back(std::move(blob));
  }
  if (blobs.empty()) return false;
  std::vector<work_unit_row> ringers;
  if (options_.trust.ringer_rate > 0 && trust_.next_is_ringer()) {
    if (auto ring = make_ringer_task(agent_id, rows.front(), now);
        ring && total + ring->first.blob.size() + 64 <= byte_cap) {
      total += ring->first.blob.size() + 64;
      blobs.push_back(ring->first.blob);
      rows.push_back(std::move(ring->first));
      ringers.push_back(std::move(ring->second));
    }
  }

  protocol::task_batch batch;
  batch.agent_id = agent_id;
  batch.in_reply_to = req.request_id;
  batch.sent_at_ms = now;
  batch.tasks = std::move(blobs);
  protocol::bytes wire;
  for (;;) {
    const auto body = protocol::build(batch);
    auto sealed = protocol::seal(protocol::message_kind::task_batch, body, topics_.prefix(), key_);
    if (!sealed) {
      log_.limited("seal_failed", log_level::error, "work", "cannot sign task batch", {{"error", sealed.err().what()}});
      return false;
    }
    if (sealed->size() <= byte_cap || batch.tasks.size() == 1) {
      wire = std::move(*sealed);
      break;
    }
    batch.tasks.pop_back();  // the estimate was short: drop the last task and sign again
    if (!ringers.empty() && rows.back().wu_id == ringers.back().wu_id) ringers.pop_back();
    rows.pop_back();
  }
  if (wire.size() > options_.max_payload) {
    log_.limited("task_too_large", log_level::error, "work", "a single task exceeds the message cap",
                 {{"task", rows.front().task_id}, {"bytes", std::to_string(wire.size())}});
    return false;
  }
  lease_commit commit;
  commit.agent_id = agent_id;
  commit.request_id = req.request_id;
  commit.tasks = std::move(rows);
  commit.ringers = std::move(ringers);
  commit.batch_bytes = wire;
  commit.now_ms = now;
  auto outcome = db_.commit_leases(commit);
  if (!outcome) {
    log_.limited("db_error", log_level::error, "work", "lease commit failed", {{"error", outcome.err().what()}});
    return false;
  }
  if (!outcome->committed) {
    // Another aggregator took a slot first (or answered this request): the next tick tries again.
    log_.write(log_level::debug, "work", "lease conflict", {{"agent", agent_id}, {"why", outcome->conflict}});
    if (auto again = db_.find_batch(agent_id, req.request_id); again && again->has_value()) {
      publish(topics_.tasks(agent_id), **again, false, options_.task_message_expiry_s, "task batch (repeat)");
      held_.erase(h);
    }
    return false;
  }
  const auto n = commit.tasks.size();
  log_.write(log_level::info, "work", "task batch sent",
             {{"agent", agent_id},
              {"request", req.request_id},
              {"tasks", std::to_string(n)},
              {"bytes", std::to_string(wire.size())}});
  held_.erase(h);
  {
    std::lock_guard lk(mu_);
    ++counters_.task_batches_sent;
    counters_.tasks_leased += n;
  }
  publish(topics_.tasks(agent_id), wire, false, options_.task_message_expiry_s, "task batch");
  return true;
}

std::optional<std::pair<task_row, work_unit_row>> aggregator_service::make_ringer_task(const std::string& agent_id,
                                                                                       const task_row& like,
                                                                                       std::uint64_t now) {
  // A copy of a real unit of the batch with the answer computed here by the kernel's C++ reference: to the agent
  // it is ordinary work of the same job.
  auto unit = db_.find_work_unit(like.wu_id);
  if (!unit || !unit->has_value()) return std::nullopt;
  auto templ = decode_task_template((*unit)->payload);
  if (!templ || templ->custom) return std::nullopt;  // custom code has no C++ reference to know the answer from
  auto ring = make_reference_ringer(*templ);
  if (!ring) {
    log_.limited("ringer_failed", log_level::warn, "work", "cannot make a ringer", {{"error", ring.err().what()}});
    return std::nullopt;
  }
  work_unit_row unit_row;
  unit_row.wu_id = like.wu_id + "~" + std::to_string(ringer_ids_());
  unit_row.job_id = ringer_job_id;
  unit_row.payload = (*unit)->payload;
  unit_row.ringer_answer = encode_ringer_answer(*ring);
  protocol::task t = std::move(ring->task);
  t.task_id = unit_row.wu_id + "#0";
  t.attempt = 1;
  t.agent_id = agent_id;
  t.issued_at_ms = now;
  t.expires_at_ms = like.lease_expires_ms;
  task_row row;
  row.task_id = t.task_id;
  row.attempt = 1;
  row.wu_id = unit_row.wu_id;
  row.agent_id = agent_id;
  row.issued_at_ms = now;
  row.lease_expires_ms = t.expires_at_ms;
  row.blob = protocol::build(t);
  row.task_digest = protocol::task_digest(row.blob);
  return std::make_pair(std::move(row), std::move(unit_row));
}

}  // namespace ec::aggregator
