// A minimal but honest aggregator for driving a real agent in tests: it enrols agents from their hellos ("open"
// enrollment), answers WorkRequests with signed TaskBatches (long-polled, repeated request_ids answered with the
// same bytes), checks every Result against the Task it issued and receipts it, and lets tests inject anything.
//
// Threads: messages are handled on the MQTT session's callback thread; every public function may be called from
// any thread. Tests wait on conditions with deadlines (wait_*), never by sleeping.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ec/protocol/bytes.hpp"
#include "ec/protocol/keys.hpp"
#include "ec/protocol/message_kind.hpp"
#include "ec/protocol/messages.hpp"
#include "ec/protocol/signer.hpp"
#include "ec/protocol/topics.hpp"
#include "ec/protocol/trust_store.hpp"
#include "ec/transport/mqtt_session.hpp"

namespace ec::test {

/// How the test aggregator connects and what it answers with.
struct test_aggregator_options {
  std::string url;                      // the broker, e.g. mosquitto_broker::url()
  std::string region = "test";          // topic prefix ec/v1/<region>
  std::string username = "aggregator";  // a user with the aggregator ACL
  std::string password = "pw-aggregator";
  std::string client_id = "aggregator";
  transport::tls_options tls;  // with an mqtts:// broker: CA, and the client certificate when the broker wants one
  std::uint32_t task_message_expiry_s = 300;  // MQTT message expiry of a TaskBatch
  std::uint32_t max_tasks_per_batch = 256;    // server-side clamp of free_slots + max_tasks
  std::uint32_t default_validity_s = 600;     // expires_at = issued_at + this, for queued tasks that set neither
  std::uint32_t default_max_runtime_ms = 30000;
  bool quiet = true;  // keep the session's log lines (log_lines()) instead of printing them
};

/// What the aggregator knows about one agent, from its hellos.
struct agent_record {
  std::string agent_id;
  protocol::public_key key;
  std::uint64_t session_seq = 0;          // of the last online hello
  std::uint64_t offline_session_seq = 0;  // of the last offline hello (Last Will or goodbye)
  bool online = false;
  protocol::agent_state state = protocol::agent_state::run;
  std::string paused_reason;  // of the last online hello ("" when not paused)
  std::uint32_t max_slots = 0;
  std::uint64_t last_control_seq = 0;
  std::uint64_t spool_bytes = 0;
  std::vector<protocol::device_info> devices;
  std::vector<std::string> out_of_service;  // of the last online hello: groups whose devices it leaves out
  std::set<std::string> kernels;            // union of the devices' self-tested kernels
  std::uint64_t hellos = 0;                 // hellos seen (online and offline)
};

/// A WorkRequest as received.
struct work_request_record {
  protocol::work_request request;
  bool repeated = false;  // its request_id was seen before from this agent
  std::chrono::steady_clock::time_point at;
};

/// One Result as received, with the aggregator's verdict.
struct result_record {
  std::string agent_id;  // the signer
  protocol::task_result result;
  protocol::bytes blob;  // the Result blob bytes
  protocol::sha256_digest result_digest{};
  bool accepted = false;
  bool duplicate = false;  // accepted earlier under the same (task_id, attempt)
  std::string reason;      // why it was refused ("" when accepted)
};

/// A ResultBatch payload as received (whole signed envelope), for republish checks.
struct result_batch_record {
  std::string agent_id;  // the signer; "" when open() failed
  protocol::bytes payload;
  bool dropped = false;    // swallowed by drop_next_result_batches()
  bool identical = false;  // the same bytes arrived before
  std::chrono::steady_clock::time_point at;
};

/// When one task went out and when its first accepted result was receipted (steady clock), for latency figures.
struct task_timing {
  std::chrono::steady_clock::time_point issued;     // the TaskBatch carrying it was built for publishing
  std::chrono::steady_clock::time_point result_at;  // its first accepted result arrived
  std::chrono::steady_clock::time_point receipted;  // the receipt covering that result was sent (epoch: never)
};

/// Counters (a snapshot).
struct aggregator_counters {
  std::uint64_t hellos = 0;
  std::uint64_t work_requests = 0;
  std::uint64_t work_requests_repeated = 0;
  std::uint64_t task_batches_sent = 0;  // resends of stored bytes included
  std::uint64_t tasks_issued = 0;
  std::uint64_t result_batches = 0;            // received, dropped ones included
  std::uint64_t result_batches_dropped = 0;    // by drop_next_result_batches()
  std::uint64_t result_batches_identical = 0;  // byte-identical to an earlier one (a republish)
  std::uint64_t results_accepted = 0;          // first acceptance of a (task_id, attempt)
  std::uint64_t results_duplicate = 0;         // accepted again: same (task_id, attempt) already stored
  std::uint64_t results_refused = 0;
  std::uint64_t receipts_sent = 0;
  std::uint64_t receipts_withheld = 0;
  std::uint64_t messages_rejected = 0;  // failed open()
  std::uint64_t controls_sent = 0;
};

/// The test aggregator. Construct, then start(); stop() or the destructor disconnects.
class test_aggregator {
 public:
  explicit test_aggregator(test_aggregator_options options);
  ~test_aggregator();
  test_aggregator(const test_aggregator&) = delete;
  test_aggregator& operator=(const test_aggregator&) = delete;

  /// Connects (to `url`, or options.url when empty) and subscribes; returns once connected, or throws.
  void start(const std::string& url = {}, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// Disconnects; idempotent.
  void stop();

  // --- keys -------------------------------------------------------------------------------------------------
  /// The aggregator's public key as PEM, for the agent's trust.aggregator_keys.
  [[nodiscard]] std::string public_key_pem() const;
  /// Writes public_key_pem() to a file (mode 0644).
  void write_public_key(const std::string& path) const;
  /// The aggregator's own signer, and a second key nobody trusts.
  [[nodiscard]] const protocol::signer& own_signer() const { return *signer_; }
  [[nodiscard]] const protocol::signer& stranger_signer() const { return *stranger_; }
  [[nodiscard]] const protocol::topics& topics() const { return topics_; }

  // --- work -------------------------------------------------------------------------------------------------
  /// Queues tasks for an agent; a held WorkRequest of that agent is answered at once. Missing fields are filled:
  /// agent_id, issued_at_ms (aggregator clock), expires_at_ms (+ default_validity_s), max_runtime_ms.
  void queue_tasks(const std::string& agent_id, std::vector<protocol::task> tasks);
  /// Tasks still queued (not yet sent) for an agent.
  [[nodiscard]] std::size_t queued_tasks(const std::string& agent_id) const;

  // --- controls and raw injection ----------------------------------------------------------------------------
  /// Sends a signed Control to one agent, or region-wide (retained on P/control) when agent_id is "".
  void send_control(const std::string& agent_id, std::uint64_t seq, protocol::agent_state desired_state,
                    std::vector<std::string> cancel_task_ids = {}, std::uint32_t max_slots = 0);
  /// Publishes bytes as they are (QoS 1).
  void publish_raw(const std::string& topic, protocol::byte_span payload, bool retained = false,
                   std::uint32_t message_expiry_s = 0);
  /// Builds and seals a TaskBatch for `agent_id` with `signer` (the tasks' blobs as build() makes them). The
  /// tasks are recorded as issued (their digests kept) so that results to them are judged like any other.
  /// Missing task fields are filled as in queue_tasks().
  [[nodiscard]] protocol::bytes sign_task_batch(const std::string& agent_id, std::vector<protocol::task> tasks,
                                                const protocol::signer& signer, const std::string& in_reply_to = "");
  /// Same, from blobs the caller built (possibly hostile); the blobs are not recorded as issued.
  [[nodiscard]] protocol::bytes sign_task_batch_blobs(const std::string& agent_id, std::vector<protocol::bytes> blobs,
                                                      const protocol::signer& signer,
                                                      const std::string& in_reply_to = "");
  /// Seals any body with a signer for this region.
  [[nodiscard]] protocol::bytes seal(protocol::message_kind kind, protocol::byte_span body,
                                     const protocol::signer& signer) const;
  /// Fills the defaults of queue_tasks() into a task for `agent_id`.
  void fill_task_defaults(const std::string& agent_id, protocol::task& t) const;

  // --- switches ---------------------------------------------------------------------------------------------
  /// While true, ResultBatches are checked and recorded but no Receipt is sent (the agent must republish).
  void set_withhold_receipts(bool withhold);
  /// Swallows the next n ResultBatches unread (no record, no receipt), as if lost.
  void drop_next_result_batches(std::size_t n);
  /// While false, WorkRequests are recorded but never answered (tasks stay queued).
  void set_answer_work_requests(bool answer);
  /// Adds `offset` to the aggregator's clock (sent_at_ms, issued_at_ms) from now on.
  void set_clock_offset(std::chrono::milliseconds offset);
  /// The aggregator's clock, ms since the epoch.
  [[nodiscard]] std::uint64_t now_ms() const;

  // --- waiting (deadlines, no sleeps) -----------------------------------------------------------------------
  /// Waits until at least n results were accepted (first acceptances).
  bool wait_results(std::size_t n, std::chrono::milliseconds timeout);
  /// Waits until the task has an accepted result.
  bool wait_result_for(const std::string& task_id, std::chrono::milliseconds timeout);
  /// Waits until an online hello of the agent arrived (with session_seq > after_session_seq when given).
  bool wait_hello(const std::string& agent_id, std::chrono::milliseconds timeout,
                  std::optional<std::uint64_t> after_session_seq = std::nullopt);
  /// Waits until the agent's record satisfies pred (runs under the aggregator's lock; must not call it).
  bool wait_agent(const std::string& agent_id, const std::function<bool(const agent_record&)>& pred,
                  std::chrono::milliseconds timeout);
  /// Waits until an offline hello (the Last Will or a clean goodbye) of the agent arrived.
  bool wait_offline(const std::string& agent_id, std::chrono::milliseconds timeout);
  /// Waits until at least n WorkRequests came from the agent ("" = any agent).
  bool wait_work_request(const std::string& agent_id, std::size_t n, std::chrono::milliseconds timeout);
  /// Waits until at least n ResultBatches arrived that were byte-identical to an earlier one.
  bool wait_identical_result_batches(std::size_t n, std::chrono::milliseconds timeout);
  /// Waits until at least n receipts were sent.
  bool wait_receipts(std::size_t n, std::chrono::milliseconds timeout);
  /// Waits until pred(counters) holds, re-checked on every event (pred runs under the aggregator's lock and must
  /// not call the aggregator).
  bool wait_until(const std::function<bool(const aggregator_counters&)>& pred, std::chrono::milliseconds timeout);

  // --- snapshots --------------------------------------------------------------------------------------------
  [[nodiscard]] aggregator_counters counters() const;
  [[nodiscard]] std::optional<agent_record> agent(const std::string& agent_id) const;
  /// Accepted results keyed by (task_id, attempt) (the first accepted copy).
  [[nodiscard]] std::map<std::pair<std::string, std::uint32_t>, result_record> accepted() const;
  /// Every Result received, in arrival order (accepted, duplicate and refused).
  [[nodiscard]] std::vector<result_record> results() const;
  /// Every Result received for one task_id.
  [[nodiscard]] std::vector<result_record> results_for(const std::string& task_id) const;
  [[nodiscard]] std::vector<result_batch_record> result_batches() const;
  [[nodiscard]] std::vector<work_request_record> work_requests() const;
  /// Timings of the tasks issued, keyed by (task_id, attempt).
  [[nodiscard]] std::map<std::pair<std::string, std::uint32_t>, task_timing> task_timings() const;
  /// The session's log lines (when quiet).
  [[nodiscard]] std::vector<std::string> log_lines() const;
  /// The MQTT session's counters.
  [[nodiscard]] transport::session_stats session_stats() const;

 private:
  struct issued_task {
    std::string agent_id;
    protocol::bytes blob;
    protocol::sha256_digest digest{};
  };
  struct held_request {
    std::string request_id;
    std::uint32_t want = 0;
    std::uint64_t max_batch_bytes = 0;
  };
  struct outgoing {
    std::string topic;
    protocol::bytes payload;
    bool retained = false;
    std::uint32_t expiry_s = 0;
  };

  void on_message(std::string_view topic, std::span<const std::uint8_t> payload);
  // Handlers run under mu_ and append what to publish to `out`.
  void handle_hello(std::span<const std::uint8_t> payload, std::vector<outgoing>& out);
  void handle_work_request(std::span<const std::uint8_t> payload, std::vector<outgoing>& out);
  void handle_result_batch(std::span<const std::uint8_t> payload, std::vector<outgoing>& out, bool replay);
  void answer_held(const std::string& agent_id, std::vector<outgoing>& out);
  outgoing make_task_batch(const std::string& agent_id, const std::string& request_id, std::uint32_t want,
                           std::uint64_t max_batch_bytes);
  void record_issued(const protocol::task& t, const protocol::bytes& blob);
  void flush(std::vector<outgoing>& out);
  [[nodiscard]] std::uint64_t now_ms_locked() const;

  test_aggregator_options options_;
  protocol::topics topics_;
  std::unique_ptr<protocol::signer> signer_;
  std::unique_ptr<protocol::signer> stranger_;
  std::unique_ptr<transport::mqtt_session> session_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  protocol::static_trust_store trust_;
  std::map<std::string, agent_record> agents_;
  std::map<std::string, std::vector<protocol::task>> queue_;
  std::map<std::string, held_request> held_;
  std::map<std::pair<std::string, std::string>, protocol::bytes> answered_;  // (agent, request_id) -> TaskBatch
  std::map<std::pair<std::string, std::uint32_t>, issued_task> issued_;
  std::set<std::string> issued_ids_;  // task_ids issued under any attempt
  std::map<std::pair<std::string, std::uint32_t>, task_timing> timings_;
  std::map<std::pair<std::string, std::uint32_t>, result_record> accepted_;
  std::vector<result_record> results_;
  std::vector<result_batch_record> batches_;
  std::set<protocol::sha256_digest> batch_hashes_;
  std::vector<work_request_record> requests_;
  std::vector<std::pair<std::string, protocol::bytes>> deferred_;  // signed by a key not yet enrolled
  std::vector<std::string> log_lines_;
  aggregator_counters counters_;
  bool withhold_receipts_ = false;
  bool answer_requests_ = true;
  std::size_t drop_batches_ = 0;
  std::int64_t clock_offset_ms_ = 0;
  bool started_ = false;
};

}  // namespace ec::test
