// The regional aggregator service: consumes hellos, WorkRequests and ResultBatches from the broker (shared
// subscriptions, so several processes can serve one region), answers with signed TaskBatches built from leases
// (long-polled), checks and stores results durably before it sends signed Receipts, validates work units, keeps
// the ledger with signed checkpoints, and publishes operator-requested region Controls.
//
// Threads: the MQTT callback only copies messages into a bounded queue; one worker thread handles them in order
// and runs the periodic tick (lease expiry, held requests, checkpoints, controls). Public functions may be called
// from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "ec/aggregator/adaptive_trust.hpp"
#include "ec/aggregator/enrollment.hpp"
#include "ec/aggregator/event_log.hpp"
#include "ec/aggregator/lease_policy.hpp"
#include "ec/aggregator/ledger.hpp"
#include "ec/aggregator/storage.hpp"
#include "ec/aggregator/task_matching.hpp"
#include "ec/aggregator/unit_validator.hpp"
#include "ec/protocol/signer.hpp"
#include "ec/protocol/topics.hpp"
#include "ec/transport/mqtt_session.hpp"

namespace ec::aggregator {

/// Everything the service needs besides storage, key and log (aggregator_config maps onto it in main.cpp).
struct service_options {
  std::string region = "default";
  transport::session_options session;  // broker URL, client id, credential, TLS, timers
  std::size_t max_payload = protocol::default_max_payload;
  enrollment_mode enrollment = enrollment_mode::token;
  std::vector<allowlist_entry> allowlist;
  std::uint32_t tick_ms = 250;
  std::uint32_t task_message_expiry_s = 300;
  std::uint32_t max_tasks_per_batch = 256;
  std::uint64_t max_clock_skew_ms = 300000;
  std::uint64_t held_request_ttl_ms = 120000;
  std::uint64_t batch_retention_ms = 24ULL * 3600 * 1000;
  std::size_t max_queued_messages = 10000;
  std::size_t max_deferred_messages = 256;
  lease_config leases;
  matching_config matching;
  ledger_config ledger;
  trust_config trust;
};

/// Counters (a snapshot), for logs and tests.
struct service_counters {
  std::uint64_t hellos = 0;
  std::uint64_t hellos_refused = 0;  // not enrolled and not admissible
  std::uint64_t work_requests = 0;
  std::uint64_t work_requests_repeated = 0;  // answered with stored batch bytes
  std::uint64_t task_batches_sent = 0;
  std::uint64_t tasks_leased = 0;
  std::uint64_t result_batches = 0;
  std::uint64_t results_stored = 0;  // first copies committed
  std::uint64_t results_redelivered = 0;
  std::uint64_t results_refused = 0;
  std::uint64_t receipts_sent = 0;
  std::uint64_t messages_rejected = 0;  // failed open() or a receiver check before any result
  std::uint64_t messages_dropped = 0;   // the input queue was full
  std::uint64_t leases_expired = 0;
  std::uint64_t units_validated = 0;
  std::uint64_t units_failed = 0;
  std::uint64_t controls_published = 0;
  std::uint64_t checkpoints = 0;
};

class aggregator_service {
 public:
  /// Keeps references to storage, signer and log: they must outlive the service.
  aggregator_service(service_options options, storage& db, const protocol::signer& key, event_log& log);
  /// Calls stop().
  ~aggregator_service();
  aggregator_service(const aggregator_service&) = delete;
  aggregator_service& operator=(const aggregator_service&) = delete;

  /// Admits the allowlist, resumes validation of units with stored results, connects and starts the worker.
  result<void> start();
  /// Stops the worker, signs a final checkpoint, disconnects. Idempotent.
  void stop();
  /// Makes the worker run its tick now (e.g. after a job was submitted in this process).
  void wake();
  [[nodiscard]] service_counters counters() const;
  /// The MQTT session's counters (zeros before start()).
  [[nodiscard]] transport::session_stats session_stats() const;

 private:
  struct inbound {
    std::string topic;
    protocol::bytes payload;
  };
  struct agent_profile_entry {
    agent_profile profile;
    std::vector<std::string> out_of_service;  // resource groups of the last online hello; their devices get no tasks
    std::uint64_t session_seq = 0;
    std::uint64_t results_returned = 0;
  };
  struct held_request {
    protocol::work_request request;
    std::uint64_t held_since_ms = 0;
  };

  void on_message(std::string_view topic, std::span<const std::uint8_t> payload);
  void run();
  void handle(const inbound& m);
  void tick(std::uint64_t now_ms);

  // service_hello.cpp
  void handle_hello(std::string_view topic_agent, protocol::byte_span payload);
  void replay_deferred();
  // service_work.cpp
  void handle_work_request(protocol::byte_span payload, bool replay);
  void answer_held(std::uint64_t now_ms);
  bool try_answer(const std::string& agent_id, std::uint64_t now_ms);
  std::optional<std::pair<task_row, work_unit_row>> make_ringer_task(const std::string& agent_id, const task_row& like,
                                                                     std::uint64_t now_ms);
  // service_results.cpp
  void handle_result_batch(protocol::byte_span payload, bool replay);
  // service_control.cpp
  void publish_region_control(std::uint64_t now_ms);

  bool defer(const std::string& topic, protocol::byte_span payload);
  // open() of an agent's message: a key not enrolled yet defers it (its hello may still be on its way, topics are
  // not ordered with each other); any other failure is counted and logged (rate-limited) under `what`.
  std::optional<protocol::opened_envelope> open_agent_message(protocol::byte_span payload, protocol::message_kind kind,
                                                              const std::string& topic, std::string_view what);
  void publish(const std::string& topic, const protocol::bytes& payload, bool retained, std::uint32_t expiry_s,
               std::string_view what);
  [[nodiscard]] std::uint64_t now_ms() const;

  service_options options_;
  storage& db_;
  const protocol::signer& key_;
  event_log& log_;
  protocol::topics topics_;
  enrollment_gate gate_;
  enrolled_keys keys_;
  ledger ledger_;
  adaptive_trust trust_;
  unit_validator validator_;
  throughput_tracker speed_;
  std::unique_ptr<transport::mqtt_session> session_;

  // Worker-thread state.
  std::map<std::string, agent_profile_entry> agents_;
  std::map<std::string, held_request> held_;
  std::deque<inbound> deferred_;
  std::uint64_t published_control_seq_ = 0;
  std::mt19937_64 ringer_ids_{std::random_device{}()};  // unique ringer unit ids
  std::uint64_t last_expiry_ms_ = 0, last_prune_ms_ = 0, last_resume_ms_ = 0;

  // Shared with the MQTT callback thread and callers.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<inbound> queue_;
  bool stopping_ = false;
  bool wake_ = false;
  std::atomic<bool> republish_control_{false};
  service_counters counters_;
  std::thread worker_;
  bool started_ = false;
};

}  // namespace ec::aggregator
