// The agent's append-only journal: every admission, result batch and receipt, durable before it matters.
//
// One file per state directory (`journal.ecj`); records are committed in groups with ONE fdatasync per commit
// (SD cards do milliseconds per sync and wear out), replayed at open into a journal_state, and compacted into a
// fresh file (temp + fsync + rename + fsync dir) when most of the file is dead. Format: docs/agent-durability.md.
//
// Thread safety: every public member is safe to call from any thread; one mutex guards the file and the state.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <variant>
#include <vector>

#include "ec/protocol/bytes.hpp"
#include "ec/protocol/error.hpp"

namespace ec::agent {

using protocol::bytes;
using protocol::sha256_digest;

/// A task attempt, the key of the replay guard, of admissions and of receipts.
struct task_key {
  std::string task_id;
  std::uint32_t attempt = 0;
  auto operator<=>(const task_key&) const = default;
};

/// A task passed the receiver checks and was admitted; the blob lets it run again after a restart.
struct task_admitted {
  std::string task_id;
  std::uint32_t attempt = 0;
  std::uint64_t expires_at_ms = 0;
  sha256_digest task_digest{};
  std::uint64_t reserved_output_bytes = 0;
  bytes task_blob;  // emptied once the task is finished (compaction keeps only the key and expiry)
};

/// A task's result was produced and spooled (written in the same group as its result_batch_spooled).
struct task_finished {
  std::string task_id;
  std::uint32_t attempt = 0;
};

/// One Result inside a spooled batch.
struct result_entry {
  std::string task_id;
  std::uint32_t attempt = 0;
  sha256_digest result_digest{};
};

/// A signed ResultBatch, exactly as published, with the results it carries.
struct result_batch_spooled {
  std::uint64_t batch_id = 0;
  std::uint64_t created_at_ms = 0;
  std::vector<result_entry> entries;
  bytes envelope;  // the SignedEnvelope bytes, republished unchanged
};

/// A receipt entry whose result_digest matched a spooled result (accepted or judged and refused).
struct receipt_applied {
  std::string task_id;
  std::uint32_t attempt = 0;
  sha256_digest result_digest{};
  bool accepted = false;
  std::string reason;
};

/// The last applied Control seq (protocol.md, check 7: Control).
struct control_seq {
  std::uint64_t seq = 0;
};

/// The agent's session counter for AgentHello.session_seq.
struct session_seq {
  std::uint64_t n = 0;
};

/// A batch was (re)published; keeps the retry timer across restarts. Written lazily, without its own sync.
struct batch_published {
  std::uint64_t batch_id = 0;
  std::uint32_t publish_count = 0;
  std::uint64_t at_ms = 0;
};

/// A batch outlived the spool TTL and its bytes were written to the dead-letter folder.
struct batch_dead_lettered {
  std::uint64_t batch_id = 0;
  std::uint64_t at_ms = 0;
};

/// Written by compaction: what the dropped history implied (batch ids never reused, tasks forgotten).
struct journal_meta {
  std::uint64_t next_batch_id = 1;
  std::uint64_t forgotten_before_ms = 0;  // finished tasks expiring before this were dropped
};

using journal_record = std::variant<task_admitted, task_finished, result_batch_spooled, receipt_applied, control_seq,
                                    session_seq, batch_published, batch_dead_lettered, journal_meta>;

/// An admitted task and whether its result has been spooled.
struct admitted_task {
  task_admitted admitted;
  bool finished = false;
};

/// Receipt state of one entry of a pending batch.
enum class receipt_state : std::uint8_t { none = 0, accepted = 1, refused = 2 };

/// A spooled batch not yet released by receipts nor dead-lettered.
struct pending_batch {
  result_batch_spooled spooled;
  std::vector<receipt_state> receipts;  // one per entry
  std::uint32_t publish_count = 1;      // the publish right after spooling counts as the first
  std::uint64_t last_published_ms = 0;
};

/// The live state the journal's records add up to (only committed, synced records).
struct journal_state {
  std::map<task_key, admitted_task> tasks;
  std::map<std::uint64_t, pending_batch> batches;
  std::multimap<task_key, std::uint64_t> batch_of;  // (task_id, attempt) -> pending batch ids
  std::uint64_t control_seq = 0;
  std::uint64_t session_seq = 0;
  std::uint64_t next_batch_id = 1;
  std::uint64_t forgotten_before_ms = 0;
  std::uint64_t reserved_bytes = 0;  // declared output bytes of admitted, unfinished tasks
  std::uint64_t spooled_bytes = 0;   // envelope bytes of pending batches

  /// Applies one record (replay, commit and compaction share this).
  void apply(const journal_record& record);
  /// Drops finished tasks whose expiry is before `before_ms`; returns how many.
  std::size_t forget_finished(std::uint64_t before_ms);
};

/// Where and how the journal lives.
struct journal_config {
  std::filesystem::path dir;                        // the state directory (created if missing)
  std::uint64_t compact_min_bytes = 4u << 20;       // never compact a smaller file
  std::uint32_t compact_dead_percent = 50;          // compact when at least this share is dead
  std::uint64_t forget_margin_ms = 10 * 60 * 1000;  // finished tasks kept this long after expiry
  std::uint32_t max_record_bytes = 16u << 20;       // a larger length field means corruption
};

/// What open() found: how much was replayed, and what had to be cut.
struct journal_open_report {
  bool created = false;                 // no journal existed
  std::uint64_t records = 0;            // records replayed
  std::uint64_t groups = 0;             // committed groups replayed
  std::uint64_t cut_bytes = 0;          // torn or corrupt tail truncated
  std::string cut_reason;               // why the first bad record was bad ("" when nothing was cut)
  std::filesystem::path preserved_cut;  // copy of the cut bytes when whole records were lost (mid-file damage)
  bool removed_stale_temp = false;      // a compaction died before its rename; its temp file was removed
};

/// Counters for tests, benchmarks and the hello's spool figures.
struct journal_stats {
  std::uint64_t file_bytes = 0;
  std::uint64_t commits = 0;     // commits that wrote something
  std::uint64_t fdatasyncs = 0;  // exactly one per commit that wrote something
  std::uint64_t records_written = 0;
  std::uint64_t compactions = 0;
  std::size_t buffered_records = 0;
};

/// The journal file and the live state its committed records add up to.
class journal {
 public:
  /// Opens (or creates) `<dir>/journal.ecj`, replays it, cuts a torn or corrupt tail; locks the directory.
  static result<std::unique_ptr<journal>> open(journal_config config);
  ~journal();
  journal(const journal&) = delete;
  journal& operator=(const journal&) = delete;

  /// What open() found.
  [[nodiscard]] const journal_open_report& open_report() const noexcept { return report_; }

  /// Buffers one group of records; a group is replayed all or nothing. Nothing is written until commit().
  void append(std::vector<journal_record> group);
  /// Writes every buffered group and makes it durable with one fdatasync; applies it to the state.
  result<void> commit();
  /// append() then commit().
  result<void> write(std::vector<journal_record> group);

  /// Rewrites the file with only the live state if it is large and mostly dead; returns whether it did.
  result<bool> maybe_compact(std::uint64_t now_ms);
  /// Forgets finished tasks expired before now - margin and rewrites the file with the live state only.
  result<void> compact(std::uint64_t now_ms);

  /// Calls f(const journal_state&) under the lock; f must not call back into the journal.
  template <typename F>
  decltype(auto) read(F&& f) const {
    std::lock_guard lock(mu_);
    return f(state_);
  }

  [[nodiscard]] journal_stats stats() const;
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  journal() = default;
  result<void> replay_locked();
  result<void> commit_locked();
  result<void> compact_locked(std::uint64_t now_ms);
  result<void> reopen_locked();
  [[nodiscard]] std::uint64_t live_bytes_locked() const;

  mutable std::mutex mu_;
  journal_config config_;
  std::filesystem::path path_;
  int fd_ = -1;
  int lock_fd_ = -1;
  std::uint64_t end_ = 0;  // bytes of committed groups (the next write offset)
  std::string failed_;     // set after a failed fdatasync: the page cache can no longer be trusted
  std::vector<std::vector<journal_record>> buffer_;
  journal_state state_;
  journal_open_report report_;
  journal_stats stats_;
};

}  // namespace ec::agent
