// Tasks: receiver check 7 in order (replay guard, then admission), spool reservation, execution, and the
// WorkRequest that pulls the next ones. Forged and replayed tasks are dropped silently (counted, rate-limited
// log); a first-seen task we will not run is answered at once so the aggregator can reassign it.
#include <algorithm>

#include "custom_kernels.hpp"
#include "ec/agent/agent_runtime.hpp"
#include "ec/agent/log.hpp"
#include "ec/protocol/digests.hpp"
#include "ec/protocol/envelope.hpp"

namespace ec::agent {
namespace {

constexpr std::string_view component = "tasks";
constexpr std::uint64_t default_runtime_ms = 60'000;     // a task that names no max_runtime_ms
constexpr std::uint64_t pull_reserve_bytes = 64 * 1024;  // stop pulling below this much free spool

task_identity identity_of(const protocol::task_view& t) {
  return {std::string(t.task_id()), std::string(t.job_id()), t.attempt(), t.digest()};
}

}  // namespace

void agent_runtime::handle_task_batch(std::span<const std::uint8_t> payload) {
  auto opened = open_message(payload, protocol::message_kind::task_batch, agent_id_);
  if (!opened) return;
  const protocol::task_batch_view batch(*opened);
  const auto local = now();
  std::uint64_t aggregator_now;
  {
    std::lock_guard lock(mu_);
    clock_.observe(batch.sent_at_ms(), local);
    aggregator_now = clock_.now(local);
  }
  std::vector<admitted_task> admitted;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (auto a = screen_task(batch.task(i), aggregator_now)) admitted.push_back(std::move(*a));
  }
  admit(std::move(admitted), aggregator_now);
  {
    // Only now is the request answered: cleared before the tasks were admitted, the timer thread could ask
    // again with spool room and slots that these tasks are about to take.
    std::lock_guard lock(mu_);
    if (!outstanding_request_.empty() && batch.in_reply_to() == outstanding_request_) {
      outstanding_request_.clear();
      if (batch.size() == 0) pull_not_before_ms_ = local + batch.retry_after_ms();
    }
  }
  maybe_request_work();
}

std::optional<agent_runtime::admitted_task> agent_runtime::screen_task(const protocol::task_view& task,
                                                                       std::uint64_t aggregator_now) {
  if (task.agent_id() != agent_id_) {
    std::lock_guard lock(mu_);
    ++stats_.tasks_dropped;
    return std::nullopt;
  }
  if (!guard_.first_seen(task.task_id(), task.attempt(), task.expires_at_ms())) {
    {
      std::lock_guard lock(mu_);
      ++stats_.tasks_replayed;
    }
    log_remote(log_level::info, component, "replayed task dropped", {{"task_id", task.task_id()}});
    return std::nullopt;
  }
  // The message buffer dies with this callback: the task runs from our own copy of its blob.
  auto blob = std::make_shared<const protocol::bytes>(task.blob().begin(), task.blob().end());
  const protocol::task_view own(*blob);
  auto verdict = admission_.check(own, agent_id_, aggregator_now);
  switch (verdict.verdict) {
    case admission_verdict::drop: {
      std::lock_guard lock(mu_);
      ++stats_.tasks_dropped;
      return std::nullopt;
    }
    case admission_verdict::answer:
      answer(own, verdict.status, std::move(verdict.reason));
      return std::nullopt;
    case admission_verdict::admit:
      break;
  }
  {
    std::lock_guard lock(mu_);
    largest_output_bytes_ = std::max(largest_output_bytes_, verdict.output_bytes);
  }
  task_admitted record{std::string(own.task_id()), own.attempt(), own.expires_at_ms(), own.digest(),
                       verdict.output_bytes,       *blob};
  return admitted_task{std::move(blob), std::move(verdict.call), std::move(record)};
}

void agent_runtime::admit(std::vector<admitted_task> tasks, std::uint64_t aggregator_now) {
  if (tasks.empty()) return;
  // One journal commit (one fdatasync) for the whole TaskBatch; when they do not all fit, as many as fit, one
  // by one, and the rest are answered so that the aggregator can reassign them at once.
  std::vector<task_admitted> records;
  records.reserve(tasks.size());
  for (const auto& t : tasks) records.push_back(t.record);
  const bool all_reserved = parts_.spool->reserve(std::move(records)).ok();
  for (auto& t : tasks) {
    const protocol::task_view own(*t.blob);
    if (!all_reserved) {
      if (auto r = parts_.spool->reserve({std::move(t.record)}); !r) {
        answer(own, protocol::result_status::rejected, "agent cannot accept work now: " + r.err().message);
        continue;
      }
    }
    submit(t.blob, std::move(t.call), own, aggregator_now);
  }
}

void agent_runtime::submit(std::shared_ptr<const protocol::bytes> blob, kernels::bound_call call,
                           const protocol::task_view& task, std::uint64_t aggregator_now) {
  const std::uint64_t runtime = task.max_runtime_ms() ? task.max_runtime_ms() : default_runtime_ms;
  const std::uint64_t left = task.expires_at_ms() > aggregator_now ? task.expires_at_ms() - aggregator_now : 0;
  execution_request req;
  req.task_id = std::string(task.task_id());
  req.attempt = task.attempt();
  req.call = std::move(call);
  req.custom = custom_call_for(task);  // custom kernels run their signed code (call.spec is null)
  req.backend_hint =
      parts_.config->devices.backend.empty() ? std::string(task.backend_hint()) : parts_.config->devices.backend;
  req.deadline = backends::clock::now() + std::chrono::milliseconds(std::min(runtime, left));
  req.keep_alive = blob;
  {
    std::lock_guard lock(mu_);
    ++running_;
    ++stats_.tasks_admitted;
  }
  parts_.exec->submit(std::move(req), [this, id = identity_of(task)](execution_outcome outcome) {
    outcome.energy_uj = task_energy_uj(outcome);
    auto result_blob = build_result_blob(id, agent_id_, outcome, now());
    const auto digest = protocol::result_digest(result_blob);  // before the move below: argument order is unspecified
    add_result({id.task_id, id.attempt, digest}, std::move(result_blob));
    {
      std::lock_guard lock(mu_);
      --running_;
    }
    changed_.notify_all();
  });
}

void agent_runtime::answer(const protocol::task_view& task, protocol::result_status status, std::string reason) {
  log_remote(log_level::info, component, "task answered without running",
             {{"task_id", task.task_id()}, {"status", protocol::to_string(status)}, {"reason", reason}});
  const auto id = identity_of(task);
  auto blob = build_answer_blob(id, agent_id_, status, std::move(reason), now());
  {
    std::lock_guard lock(mu_);
    ++stats_.tasks_answered;
  }
  const auto digest = protocol::result_digest(blob);  // before the move below: argument order is unspecified
  add_result({id.task_id, id.attempt, digest}, std::move(blob));
}

void agent_runtime::recover_unfinished() {
  const auto local = now();
  for (auto& t : parts_.spool->unfinished()) {
    auto blob = std::make_shared<const protocol::bytes>(std::move(t.task_blob));
    if (blob->empty()) continue;
    const protocol::task_view task(*blob);
    // Verified when it arrived; the journal's CRC guards the copy. Judged on the local clock: no aggregator
    // timestamp has been seen yet in this process.
    auto verdict = admission_.check(task, agent_id_, local);
    if (verdict.verdict == admission_verdict::admit) {
      submit(blob, std::move(verdict.call), task, local);
      std::lock_guard lock(mu_);
      ++stats_.restart_reruns;
    } else {
      answer(task, protocol::result_status::cancelled,
             "agent restarted and the task can no longer run: " + verdict.reason);
      std::lock_guard lock(mu_);
      ++stats_.restart_cancelled;
    }
  }
}

std::uint64_t agent_runtime::spool_room() const {
  const auto sp = parts_.spool->stats();
  const auto used = sp.spooled_bytes + sp.reserved_bytes;
  return sp.capacity_bytes > used ? sp.capacity_bytes - used : 0;
}

void agent_runtime::maybe_request_work() {
  protocol::work_request req;
  {
    std::lock_guard lock(mu_);
    if (stopping_ || !connected_ || effective_state_locked() != protocol::agent_state::run) return;
    const auto t = now();
    if (!outstanding_request_.empty()) {
      if (t - request_sent_ms_ < parts_.config->agent.work_request_resend_ms) return;  // resend, same id
    } else {
      if (t < pull_not_before_ms_) return;
      // Ask only for as many tasks as the spool can hold results for, judged by the largest output admitted so
      // far: when it is full, pulling stops and nothing is dropped or refused for want of room.
      const std::uint64_t fit = spool_room() / (largest_output_bytes_ + pull_reserve_bytes);
      if (fit == 0) return;
      const std::uint64_t free = parts_.exec->free_slots(), queued = parts_.exec->queued();
      const std::uint64_t idle = std::min<std::uint64_t>(free > queued ? free - queued : 0, fit);
      const std::uint64_t prefetched = queued > free ? queued - free : 0;
      const std::uint64_t room = std::min<std::uint64_t>(
          parts_.config->agent.max_tasks > prefetched ? parts_.config->agent.max_tasks - prefetched : 0, fit - idle);
      if (idle + room == 0) return;
      outstanding_request_ = agent_id_ + "-" + std::to_string(session_seq_) + "-" + std::to_string(++request_counter_);
      req.free_slots = static_cast<std::uint32_t>(idle);
      req.max_tasks = static_cast<std::uint32_t>(room);
    }
    req.agent_id = agent_id_;
    req.request_id = outstanding_request_;
    if (req.free_slots == 0 && req.max_tasks == 0) {  // a resend: announce what is free now, and fits the spool
      const std::uint64_t fit = spool_room() / (largest_output_bytes_ + pull_reserve_bytes);
      req.free_slots = static_cast<std::uint32_t>(std::min<std::uint64_t>(parts_.exec->free_slots(), fit));
      req.max_tasks = static_cast<std::uint32_t>(std::min<std::uint64_t>(parts_.config->agent.max_tasks, fit));
    }
    const auto cap = parts_.config->broker.max_payload_bytes;
    const auto asked = parts_.config->agent.max_batch_bytes ? std::min(parts_.config->agent.max_batch_bytes, cap) : cap;
    req.max_batch_bytes = static_cast<std::uint32_t>(std::min<std::uint64_t>(asked, UINT32_MAX));
    req.sent_at_ms = t;
    request_sent_ms_ = t;
    ++stats_.work_requests;
  }
  auto sealed =
      protocol::seal(protocol::message_kind::work_request, protocol::build(req), topics_.prefix(), *parts_.signer);
  if (!sealed) return log(log_level::error, component, "cannot sign a work request", {{"error", sealed.err().what()}});
  if (auto r = parts_.session->publish(topics_.work(), *sealed, 1); !r)
    log_remote(log_level::warn, component, "cannot publish a work request", {{"error", r.err().what()}});
}

}  // namespace ec::agent
