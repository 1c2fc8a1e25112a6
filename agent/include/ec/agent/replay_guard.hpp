// The replay guard: a Task (task_id, attempt) is first seen exactly once, across restarts (protocol.md check 7).
//
// In memory, restored at start from the journal's task_admitted records; entries are dropped once their task
// expired more than a margin ago, and anything expiring before that horizon counts as already seen (a replay
// that old cannot be told apart from a new task otherwise). Persisted by admission: a task judged first seen is
// written to the journal when the spool reserves it (result_spool::reserve); a crash in between means the task
// was never admitted, so seeing it again after the restart is correct.
//
// Thread safety: every member is safe to call from any thread (one mutex).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string_view>

#include "ec/agent/journal.hpp"

namespace ec::agent {

class replay_guard {
 public:
  /// margin_ms: how long after its expiry an entry is kept (clock skew between aggregator and agent).
  explicit replay_guard(std::uint64_t margin_ms = 10 * 60 * 1000) : margin_ms_(margin_ms) {}

  /// Loads every admitted task and the forgotten horizon from the journal's live state.
  void restore(const journal& j);

  /// True exactly once per (task_id, attempt); false for a repeat or a task expiring before the horizon.
  bool first_seen(std::string_view task_id, std::uint32_t attempt, std::uint64_t expires_at_ms);

  /// Drops entries whose task expired before now - margin, and raises the horizon; returns how many went.
  std::size_t forget_expired(std::uint64_t now_ms);

  /// Entries held.
  [[nodiscard]] std::size_t size() const;
  /// Tasks expiring before this time count as seen.
  [[nodiscard]] std::uint64_t horizon_ms() const;

 private:
  mutable std::mutex mu_;
  std::uint64_t margin_ms_;
  std::uint64_t horizon_ms_ = 0;
  std::map<task_key, std::uint64_t, std::less<>> seen_;  // -> expires_at_ms
};

}  // namespace ec::agent
