// The result spool: signed ResultBatches kept durable until a matching receipt, bounded in bytes, never dropped.
//
// Admission reserves a task's declared output bytes (so an admitted task always has room); spool() makes a
// batch durable (one journal commit) BEFORE the caller publishes it; release() removes it once every result in
// it got a receipt with the same result_digest; due() says what to republish (30 s, doubling to 5 min);
// dead_letter() moves batches older than the TTL to one fsync'd file each. All state lives in the journal.
//
// Thread safety: every member is safe to call from any thread (the agent's event loop and executor threads);
// one mutex serializes spool operations, and the journal has its own (taken inside, never the other way).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "ec/agent/journal.hpp"

namespace ec::agent {

struct spool_config;  // the `[spool]` configuration section (config.hpp)

/// Spool limits and timers (docs/agent-durability.md); defaults equal the `[spool]` keys' defaults.
struct result_spool_config {
  std::uint64_t capacity_bytes = 256ull << 20;     // reserved + spooled bytes never pass this
  std::uint64_t first_retry_ms = 30'000;           // republish an unreceipted batch after this...
  std::uint64_t max_retry_ms = 300'000;            // ...doubling up to this
  std::uint64_t ttl_ms = 7ull * 24 * 3600 * 1000;  // then, after this, move it to the dead letters
  std::filesystem::path dead_letter_dir;           // empty: <journal dir>/dead-letter

  /// From the `[spool]` section: max_bytes, ttl_s, republish_initial_s, republish_max_s.
  static result_spool_config from(const spool_config& section);
};

/// One entry of a signed Receipt, as the receiver checks produced it.
struct receipt_entry {
  std::string task_id;
  std::uint32_t attempt = 0;
  sha256_digest result_digest{};
  bool accepted = false;
  std::string reason;
};

/// What release() did with one Receipt.
struct release_report {
  std::vector<std::uint64_t> released;  // batch ids removed from the spool
  std::size_t applied = 0;              // entries matching a spooled result (digest equal)
  std::size_t mismatched = 0;           // (task_id, attempt) spooled but another digest: not released
  std::size_t unknown = 0;              // nothing spooled for it (already released, or never ours)
};

/// A batch to publish again, unchanged.
struct due_batch {
  std::uint64_t batch_id = 0;
  std::uint32_t publish_count = 0;  // including this one
  bytes envelope;
};

/// A batch moved to the dead-letter folder.
struct dead_lettered_batch {
  std::uint64_t batch_id = 0;
  std::uint64_t created_at_ms = 0;
  std::filesystem::path file;  // holds the exact envelope bytes
  std::vector<result_entry> entries;
};

/// Spool figures for the hello (spool_bytes), metrics and the agent's pull decision.
struct spool_stats {
  std::size_t pending_batches = 0;
  std::uint64_t spooled_bytes = 0;
  std::uint64_t reserved_bytes = 0;
  std::uint64_t capacity_bytes = 0;
  std::size_t unfinished_tasks = 0;
  std::size_t dead_letters = 0;           // files in the dead-letter folder (from before and since open)
  std::uint64_t republished = 0;          // since open
  std::uint64_t mismatched_receipts = 0;  // since open
};

class result_spool {
 public:
  /// Builds the spool over an open journal (pending batches and timers come from its state).
  static result<std::unique_ptr<result_spool>> open(journal& j, result_spool_config config);

  /// Reserves the tasks' declared output bytes and journals their admission (one commit); all or none.
  /// Fails with `unavailable` ("result spool full") when they do not fit: the agent stops pulling.
  result<void> reserve(std::vector<task_admitted> tasks);
  /// Whether n more bytes could be reserved now.
  [[nodiscard]] bool can_reserve(std::uint64_t n) const;

  /// Makes a signed ResultBatch durable (one commit, with task_finished for its tasks); returns its batch id.
  /// Publish only after this succeeds. The batch is due again first_retry_ms after now_ms.
  result<std::uint64_t> spool(bytes envelope, std::vector<result_entry> entries, std::uint64_t now_ms);

  /// Applies a Receipt: entries with a matching digest are journaled (accepted or not: they were judged).
  result<release_report> release(std::span<const receipt_entry> entries);

  /// Batches to republish now (every pending one when `all`, e.g. after a reconnect); advances their timers to
  /// now_ms (journaled lazily, with the next commit).
  std::vector<due_batch> due(std::uint64_t now_ms, bool all = false);

  /// Moves batches created more than ttl_ms ago to the dead-letter folder (one fsync'd file each) and reports them.
  result<std::vector<dead_lettered_batch>> dead_letter(std::uint64_t now_ms);

  /// Tasks admitted before a restart whose result was never spooled: run again, or answer Cancelled.
  [[nodiscard]] std::vector<task_admitted> unfinished() const;

  [[nodiscard]] spool_stats stats() const;

 private:
  result_spool(journal& j, result_spool_config config) : journal_(j), config_(std::move(config)) {}
  [[nodiscard]] std::uint64_t retry_after(std::uint32_t publish_count) const;

  // Timers advanced by due() whose batch_published record is not committed yet (the state lags behind).
  struct timer {
    std::uint32_t publish_count = 0;
    std::uint64_t last_published_ms = 0;
  };

  mutable std::mutex mu_;
  journal& journal_;
  result_spool_config config_;
  std::size_t dead_letters_ = 0;
  std::uint64_t republished_ = 0;
  std::uint64_t mismatched_ = 0;
  std::map<std::uint64_t, timer> timers_;
};

}  // namespace ec::agent
