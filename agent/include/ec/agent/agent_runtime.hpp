// The agent at work: pulls TaskBatches over MQTT, admits only what is signed and safe, runs it on the executor,
// signs results in batches, spools them durably before publishing, and releases them only on a matching
// signed receipt. The daemon (`edge-agent run`) and the C API build one of these over the same parts.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ec/agent/aggregator_clock.hpp"
#include "ec/agent/config.hpp"
#include "ec/agent/energy_history.hpp"
#include "ec/agent/executor.hpp"
#include "ec/agent/host_signals.hpp"
#include "ec/agent/owner_policy.hpp"
#include "ec/agent/replay_guard.hpp"
#include "ec/agent/result_builder.hpp"
#include "ec/agent/result_spool.hpp"
#include "ec/agent/task_admission.hpp"
#include "ec/protocol/signer.hpp"
#include "ec/protocol/topics.hpp"
#include "ec/protocol/trust_store.hpp"
#include "ec/transport/mqtt_session.hpp"

namespace ec::agent {

/// The parts a runtime works with; all must outlive it.
struct runtime_parts {
  const agent_config* config = nullptr;
  const protocol::signer* signer = nullptr;
  const protocol::trust_store* trust = nullptr;  // aggregator keys: TaskBatch, Receipt, Control
  const backends::registry* devices = nullptr;
  const backends::device_selector* selector = nullptr;
  executor* exec = nullptr;
  journal* journal_store = nullptr;
  result_spool* spool = nullptr;
  transport::mqtt_session* session = nullptr;
  std::function<std::uint64_t()> now_ms;  // wall clock, ms since the epoch (injectable for tests)
  std::filesystem::path status_file;      // rewritten every few seconds for `edge-agent status` ("" = none)
  std::shared_ptr<host_signals> host_feed;  // host-fed owner signals (the C API); null = sysfs only
  // For an embedding host (the C API): each result once its batch is durable in the spool (on the thread that
  // spooled it), and each state applied by a Control. Must not call back into the runtime.
  std::function<void(const result_entry&, protocol::byte_span result_blob)> on_result_spooled;
  std::function<void(protocol::agent_state)> on_state_applied;
};

/// Counters for `status`, logs and tests.
struct runtime_stats {
  std::uint64_t tasks_admitted = 0, tasks_answered = 0, tasks_dropped = 0, tasks_replayed = 0;
  std::uint64_t messages_rejected = 0;  // failed open(): forged, tampered, malformed, oversize, misaddressed
  std::uint64_t results_spooled = 0, batches_published = 0, batches_republished = 0, batches_released = 0;
  std::uint64_t work_requests = 0, controls_applied = 0, controls_stale = 0;
  std::uint64_t restart_reruns = 0, restart_cancelled = 0;
};

class agent_runtime {
 public:
  explicit agent_runtime(runtime_parts parts);
  ~agent_runtime();
  agent_runtime(const agent_runtime&) = delete;
  agent_runtime& operator=(const agent_runtime&) = delete;

  /// Recovers unfinished tasks from the journal, wires the session and starts it and the timer thread.
  result<void> start();
  /// Stops pulling; with `drain`, answers queued tasks Cancelled and waits (up to drain_timeout_s) for running
  /// ones and for the last results to be spooled and handed to the session; then stops the session.
  void stop(bool drain);
  [[nodiscard]] runtime_stats stats() const;
  [[nodiscard]] const std::string& agent_id() const { return agent_id_; }
  /// The state in effect: the aggregator's Control state, turned to pause while the owner policy or the host pauses.
  [[nodiscard]] protocol::agent_state state() const;
  /// Why the agent is paused ("" when it is not): the aggregator's Control, the owner policy, the host, or several.
  [[nodiscard]] std::string paused_reason() const;
  /// The embedding host's pause (C API): a third pause source beside the Control and the owner policy; may be set
  /// before start(). Running tasks finish; the hello and the status file tell the reason.
  void set_host_paused(bool paused);

 private:
  struct pending_result {
    result_entry entry;
    protocol::bytes blob;
  };

  // connection and hello (agent_runtime.cpp)
  void on_connected(bool session_present);
  transport::will_options make_will();
  protocol::bytes sealed_hello(bool online, std::uint64_t session_seq);
  void publish_hello();
  void on_message(std::string_view topic, std::span<const std::uint8_t> payload);
  void timer_loop();
  // Republishes the hello and rewrites the status file when the executor's out-of-service groups changed.
  void announce_out_of_service_change();
  void write_status_file(bool force = false);
  std::uint64_t now() const { return parts_.now_ms(); }

  // tasks (runtime_tasks.cpp)
  void handle_task_batch(std::span<const std::uint8_t> payload);
  // A task that passed the receiver checks, waiting for its spool reservation.
  struct admitted_task {
    std::shared_ptr<const protocol::bytes> blob;  // our own copy of the Task bytes
    kernels::bound_call call;
    task_admitted record;
  };
  // Replay guard and admission: the task to reserve and run, or nothing (dropped, or answered at once).
  std::optional<admitted_task> screen_task(const protocol::task_view& task, std::uint64_t aggregator_now);
  // Reserves the tasks' outputs in one journal commit (one by one if they do not all fit), then runs them.
  void admit(std::vector<admitted_task> tasks, std::uint64_t aggregator_now);
  void submit(std::shared_ptr<const protocol::bytes> blob, kernels::bound_call call, const protocol::task_view& task,
              std::uint64_t aggregator_now);
  void answer(const protocol::task_view& task, protocol::result_status status, std::string reason);
  void recover_unfinished();
  void maybe_request_work();
  // Free spool bytes: capacity less spooled results and reserved outputs.
  [[nodiscard]] std::uint64_t spool_room() const;

  // results, receipts, controls (runtime_results.cpp)
  void add_result(result_entry entry, protocol::bytes blob);
  void flush_results(bool force);
  void republish_due();
  void handle_receipt(std::span<const std::uint8_t> payload);
  void handle_control(std::span<const std::uint8_t> payload, bool region_wide);
  void apply_state(protocol::agent_state desired);

  // owner policy and energy (runtime_policy.cpp)
  result<void> start_owner_policy();
  void update_owner_policy(std::uint64_t now_ms);
  // Energy of a finished task's run, from the sensors (nothing without one); shared with tasks beside it.
  std::optional<std::uint64_t> task_energy_uj(const execution_outcome& outcome);
  // Tasks the executor is running now (submitted and unfinished, at most its slots).
  [[nodiscard]] unsigned busy_slots() const;
  [[nodiscard]] unsigned busy_slots_locked() const;  // with mu_ held
  // After a pause source changed: applies it to the executor, tells the aggregator (hello) and the status file.
  void announce_pause_change();
  // Pauses the executor while the Control, the owner or the host says so; one caller at a time (pause_mu_).
  void sync_executor_pause();
  [[nodiscard]] protocol::agent_state effective_state_locked() const;
  [[nodiscard]] std::string paused_reason_locked() const;
  [[nodiscard]] std::string owner_status_lines();

  result<protocol::opened_envelope> open_message(std::span<const std::uint8_t> payload, protocol::message_kind kind,
                                                 std::string_view topic_agent_id);

  runtime_parts parts_;
  std::string agent_id_;
  protocol::topics topics_;
  task_admission admission_;
  replay_guard guard_;
  aggregator_clock clock_;

  mutable std::mutex mu_;
  std::condition_variable changed_;
  runtime_stats stats_;
  protocol::agent_state state_ = protocol::agent_state::run;
  std::uint64_t session_seq_ = 0;
  std::uint64_t last_control_seq_ = 0;
  std::string outstanding_request_;  // request_id of the unanswered WorkRequest ("" none)
  std::uint64_t request_sent_ms_ = 0;
  std::uint64_t pull_not_before_ms_ = 0;  // retry_after from an empty TaskBatch
  std::uint64_t request_counter_ = 0;
  std::uint64_t largest_output_bytes_ = 0;  // largest output reservation admitted: sizes the next pull to the spool
  std::size_t running_ = 0;                 // submitted to the executor, outcome not yet back
  std::vector<pending_result> pending_;     // results not yet in a batch
  std::uint64_t pending_bytes_ = 0;
  std::uint64_t oldest_pending_ms_ = 0;
  bool connected_ = false;
  bool stopping_ = false;
  std::string last_error_;
  std::uint64_t status_written_ms_ = 0;
  std::uint64_t housekeeping_ms_ = 0;  // last replay-guard expiry and compaction check (timer thread only)
  std::vector<std::string> announced_out_of_service_;  // sorted; last set logged and published (timer thread only)
  std::mutex status_mu_;               // one writer of the status file at a time (timer, spool and receipt paths)
  std::optional<owner_policy> policy_;  // timer thread only (and start() before it)
  std::unique_ptr<energy_history> energy_;  // from construction on: timer and executor threads (thread-safe)
  // Copies for the hello and the status file, which other threads write: under mu_.
  owner_verdict owner_;
  bool host_paused_ = false;
  owner_readings owner_readings_;
  std::uint64_t owner_resume_s_ = 0;
  std::string energy_source_ = "none";
  std::optional<double> energy_total_j_, energy_busy_j_;  // busy: sampled while a task ran; nothing: no sensor
  std::mutex pause_mu_;  // orders the executor's set_paused calls from the Control, the policy and the host
  std::thread timer_;
};

}  // namespace ec::agent
