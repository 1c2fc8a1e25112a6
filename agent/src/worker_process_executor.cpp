// The supervisor: one thread per worker slot, each owning one worker process. Queueing follows the in-process
// executor (FIFO within what a group can run; callbacks run without the lock). What differs is failure: a slot
// thread that loses its worker restarts it (at once after a deadline kill, with backoff after a crash), and a
// group whose workers keep crashing stops taking tasks; tasks nothing else can run are answered at once.
#include "ec/agent/worker_process_executor.hpp"

#include <algorithm>

#include "ec/agent/log.hpp"
#include "task_queue.hpp"
#include "worker_slot.hpp"

namespace ec::agent {
namespace {

constexpr std::string_view component = "supervisor";

std::uint64_t us_between(backends::clock::time_point a, backends::clock::time_point b) {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(b - a).count());
}

execution_outcome answered(protocol::result_status status, std::string why) {
  execution_outcome o;
  o.status = status;
  o.error = std::move(why);
  return o;
}

}  // namespace

worker_process_executor::worker_process_executor(const backends::device_selector& selector,
                                                 std::uint32_t slots_per_group, worker_executor_options options)
    : selector_(selector), options_(std::move(options)), queue_(std::make_unique<task_queue>()) {
  for (const auto& g : selector_.resource_groups()) {
    group_state st;
    st.health.group = g;
    st.slots = std::max(1u, slots_per_group);
    groups_.push_back(std::move(st));
    for (std::uint32_t i = 0; i < groups_.back().slots; ++i)
      slots_.push_back(std::make_unique<slot>(slot{g, std::make_unique<worker::worker_slot>(), false}));
  }
  for (auto& s : slots_) threads_.emplace_back([this, p = s.get()] { slot_loop(*p); });
}

worker_process_executor::~worker_process_executor() {
  drain();
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
  for (auto& s : slots_) s->worker->stop();
}

worker_process_executor::group_state& worker_process_executor::state_of(const std::string& group) {
  return *std::find_if(groups_.begin(), groups_.end(), [&](const group_state& g) { return g.health.group == group; });
}

std::vector<std::string> worker_process_executor::worker_args_for(const std::string& group) const {
  std::vector<std::string> a{"--state-dir", options_.state_dir.string()};
  if (!options_.module_dir.empty()) a.insert(a.end(), {"--module-dir", options_.module_dir.string()});
  // A worker loads only the backends with a device in its group: a GPU group's worker needs no PoCL.
  std::vector<std::string> used;
  // Every device of the group, not only those with self-test verdicts: custom kernels have none.
  for (const auto* d : selector_.devices_in(group)) used.push_back(d->info.backend);
  for (const auto& name : backends::module_backend_names())
    if (std::find(used.begin(), used.end(), name) == used.end() ||
        std::find(options_.disabled_backends.begin(), options_.disabled_backends.end(), name) !=
            options_.disabled_backends.end())
      a.insert(a.end(), {"--disable", name});
  a.insert(a.end(), {"--cpu-threads", std::to_string(options_.cpu_threads), "--custom-cache-entries",
                     std::to_string(options_.custom_cache_entries), "--memory-limit-mib",
                     std::to_string(options_.memory_limit_mib)});
  if (!options_.idle_priority) a.emplace_back("--no-idle");
  if (!options_.landlock) a.emplace_back("--no-landlock");
  return a;
}

bool worker_process_executor::restart(slot& s) {
  {
    std::unique_lock lock(mutex_);
    auto& g = state_of(s.group);
    wake_.wait_until(lock, g.restart_not_before, [&] { return stop_; });
    if (stop_ || !g.health.in_service) return false;
  }
  worker::slot_spec spec{options_.binary, worker_args_for(s.group), options_.start_timeout, options_.kill_grace_min};
  auto r = s.worker->start(spec);
  std::vector<queued_task> orphans;
  {
    std::lock_guard lock(mutex_);
    auto& g = state_of(s.group);
    if (r) {
      if (g.health.sandbox != r->sandbox && r->sandbox.starts_with("landlock off") &&
          r->sandbox.find(", user ") == std::string::npos)
        log(log_level::warn, component, "workers can read the agent's files: no Landlock and not root",
            {{"group", s.group}, {"sandbox", r->sandbox}});
      g.health.sandbox = r->sandbox;
      if (s.ever_started) ++g.health.restarts;
      if (!s.ever_started) ++g.started;
      s.ever_started = true;
    } else {
      record_failure(s.group, r.err().what(), true, orphans);
    }
  }
  wake_.notify_all();
  for (auto& p : orphans) p.done(answered(protocol::result_status::kernel_error, "resource group out of service"));
  return r.ok();
}

void worker_process_executor::record_failure(const std::string& group, const std::string& why, bool crashed,
                                             std::vector<queued_task>& orphans) {
  auto& g = state_of(group);
  g.health.last_failure = why;
  if (!crashed) {
    ++g.health.timeouts;
    return;
  }
  ++g.health.crashes;
  const auto now = backends::clock::now();
  std::erase_if(g.recent_crashes, [&](auto t) { return now - t > options_.crash_window; });
  g.recent_crashes.push_back(now);
  const auto n = static_cast<std::uint32_t>(g.recent_crashes.size());
  auto backoff = options_.backoff_initial * (1LL << std::min<std::uint32_t>(n - 1, 20));
  g.restart_not_before = now + std::min<std::chrono::milliseconds>(backoff, options_.backoff_max);
  log(log_level::warn, component, "worker failed", {{"group", group}, {"crashes", n}, {"error", why}});
  if (n < options_.max_crashes || !g.health.in_service) return;
  g.health.in_service = false;
  log(log_level::error, component, "resource group out of service", {{"group", group}, {"crashes", n}});
  for (auto& t : queue_->take_if([&](const execution_request& r) { return !runnable_somewhere(r); }))
    orphans.push_back(std::move(t));
}

bool worker_process_executor::runnable_somewhere(const execution_request& request) const {
  return std::any_of(groups_.begin(), groups_.end(), [&](const group_state& g) {
    return g.health.in_service && device_for(selector_, request, g.health.group) != nullptr;
  });
}

void worker_process_executor::slot_loop(slot& s) {
  for (;;) {
    if (!s.worker->running() && !restart(s)) {
      std::unique_lock lock(mutex_);
      if (stop_ || !state_of(s.group).health.in_service) return;
      continue;  // backoff elapsed or a failed start: try again
    }
    std::optional<task_queue::taken> t;
    const auto device_of = [&](const execution_request& r) { return device_for(selector_, r, s.group); };
    {
      std::unique_lock lock(mutex_);
      const auto take = [&] { return state_of(s.group).health.in_service && (t = queue_->take_first(device_of)); };
      wake_.wait(lock, [&] { return stop_ || (!paused_ && take()); });
      if (stop_ && !t) return;
      ++busy_;
    }
    auto& p = t->task;
    const auto start = backends::clock::now();
    auto r = s.worker->run(p.request, t->device->dev->id());
    r.outcome.device = t->device->info;
    r.outcome.queued_us = us_between(p.submitted, start);
    r.outcome.total_us = us_between(p.submitted, backends::clock::now());
    std::vector<queued_task> orphans;
    {
      std::lock_guard lock(mutex_);
      --busy_;
      if (r.worker_lost) record_failure(s.group, r.outcome.error, r.crashed, orphans);
    }
    p.done(std::move(r.outcome));
    for (auto& o : orphans) o.done(answered(protocol::result_status::kernel_error, "resource group out of service"));
    wake_.notify_all();
  }
}

void worker_process_executor::submit(execution_request request, completion done) {
  {
    std::lock_guard lock(mutex_);
    const bool someone_down =
        std::any_of(groups_.begin(), groups_.end(), [](const auto& g) { return !g.health.in_service; });
    if (!someone_down || runnable_somewhere(request)) {
      queue_->push(std::move(request), std::move(done));
      done = nullptr;
    }
  }
  if (done) return done(answered(protocol::result_status::kernel_error, "resource group out of service"));
  wake_.notify_all();
}

void worker_process_executor::cancel(std::string_view task_id) {
  std::vector<queued_task> gone;
  {
    std::lock_guard lock(mutex_);
    gone = queue_->take_id(task_id);
  }
  for (auto& p : gone) p.done(answered(protocol::result_status::cancelled, "cancelled by the aggregator"));
}

void worker_process_executor::set_paused(bool paused) {
  {
    std::lock_guard lock(mutex_);
    paused_ = paused;
  }
  wake_.notify_all();
}

void worker_process_executor::drain() {
  std::vector<queued_task> gone;
  {
    std::lock_guard lock(mutex_);
    gone = queue_->take_all();
  }
  for (auto& p : gone) p.done(answered(protocol::result_status::cancelled, "agent draining"));
}

std::uint32_t worker_process_executor::total_slots() const {
  std::lock_guard lock(mutex_);
  std::uint32_t n = 0;
  for (const auto& g : groups_)
    if (g.health.in_service) n += g.slots;
  return n;
}

std::uint32_t worker_process_executor::free_slots() const {
  const auto total = total_slots();
  std::lock_guard lock(mutex_);
  return total > busy_ ? total - busy_ : 0;
}

std::size_t worker_process_executor::queued() const {
  std::lock_guard lock(mutex_);
  return queue_->size();
}

std::vector<group_health> worker_process_executor::health() const {
  std::lock_guard lock(mutex_);
  std::vector<group_health> out;
  for (const auto& g : groups_) out.push_back(g.health);
  return out;
}

std::vector<std::string> worker_process_executor::out_of_service_groups() const {
  std::vector<std::string> out;
  for (const auto& h : health())
    if (!h.in_service) out.push_back(h.group);
  return out;
}

bool worker_process_executor::wait_started(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return wake_.wait_for(lock, timeout, [&] {
    return std::all_of(groups_.begin(), groups_.end(),
                       [](const group_state& g) { return !g.health.in_service || g.started == g.slots; });
  });
}

}  // namespace ec::agent
