// How journal records add up to the live state; replay, commit and compaction all go through apply().
#include <algorithm>

#include "ec/agent/journal.hpp"

namespace ec::agent {

namespace {

void erase_batch(journal_state& s, std::map<std::uint64_t, pending_batch>::iterator it) {
  for (const auto& e : it->second.spooled.entries) {
    auto [lo, hi] = s.batch_of.equal_range(task_key{e.task_id, e.attempt});
    for (auto b = lo; b != hi; ++b) {
      if (b->second == it->first) {
        s.batch_of.erase(b);
        break;
      }
    }
  }
  s.spooled_bytes -= it->second.spooled.envelope.size();
  s.batches.erase(it);
}

struct applier {
  journal_state& s;

  void operator()(const task_admitted& r) {
    // The first admission wins: a duplicate (which the replay guard prevents) must not double the reservation.
    auto [it, inserted] = s.tasks.try_emplace(task_key{r.task_id, r.attempt}, admitted_task{r, false});
    if (inserted) s.reserved_bytes += r.reserved_output_bytes;
  }
  void operator()(const task_finished& r) {
    auto it = s.tasks.find(task_key{r.task_id, r.attempt});
    if (it == s.tasks.end() || it->second.finished) return;  // e.g. a Rejected result for a task never admitted
    it->second.finished = true;
    s.reserved_bytes -= it->second.admitted.reserved_output_bytes;
    bytes().swap(it->second.admitted.task_blob);  // never run again: only the key and expiry stay in memory
  }
  void operator()(const result_batch_spooled& r) {
    s.next_batch_id = std::max(s.next_batch_id, r.batch_id + 1);
    pending_batch p{r, std::vector<receipt_state>(r.entries.size(), receipt_state::none), 1, r.created_at_ms};
    auto [it, inserted] = s.batches.try_emplace(r.batch_id, std::move(p));
    if (!inserted) return;
    for (const auto& e : r.entries) s.batch_of.emplace(task_key{e.task_id, e.attempt}, r.batch_id);
    s.spooled_bytes += r.envelope.size();
  }
  void operator()(const receipt_applied& r) {
    std::vector<std::uint64_t> done;
    auto [lo, hi] = s.batch_of.equal_range(task_key{r.task_id, r.attempt});
    for (auto b = lo; b != hi; ++b) {
      pending_batch& p = s.batches.at(b->second);
      for (std::size_t i = 0; i < p.spooled.entries.size(); ++i) {
        const result_entry& e = p.spooled.entries[i];
        if (e.task_id == r.task_id && e.attempt == r.attempt && e.result_digest == r.result_digest) {
          p.receipts[i] = r.accepted ? receipt_state::accepted : receipt_state::refused;
        }
      }
      const bool all =
          std::all_of(p.receipts.begin(), p.receipts.end(), [](receipt_state x) { return x != receipt_state::none; });
      if (all) done.push_back(b->second);
    }
    // A batch listing the same (task_id, attempt) twice appears twice in the range: erase it once.
    std::sort(done.begin(), done.end());
    done.erase(std::unique(done.begin(), done.end()), done.end());
    for (const std::uint64_t id : done) erase_batch(s, s.batches.find(id));
  }
  void operator()(const control_seq& r) { s.control_seq = std::max(s.control_seq, r.seq); }
  void operator()(const session_seq& r) { s.session_seq = std::max(s.session_seq, r.n); }
  void operator()(const batch_published& r) {
    auto it = s.batches.find(r.batch_id);
    if (it == s.batches.end()) return;
    it->second.publish_count = std::max(it->second.publish_count, r.publish_count);
    it->second.last_published_ms = std::max(it->second.last_published_ms, r.at_ms);
  }
  void operator()(const batch_dead_lettered& r) {
    auto it = s.batches.find(r.batch_id);
    if (it != s.batches.end()) erase_batch(s, it);
  }
  void operator()(const journal_meta& r) {
    s.next_batch_id = std::max(s.next_batch_id, r.next_batch_id);
    s.forgotten_before_ms = std::max(s.forgotten_before_ms, r.forgotten_before_ms);
  }
};

}  // namespace

void journal_state::apply(const journal_record& record) { std::visit(applier{*this}, record); }

std::size_t journal_state::forget_finished(std::uint64_t before_ms) {
  const std::size_t n = std::erase_if(
      tasks, [&](const auto& kv) { return kv.second.finished && kv.second.admitted.expires_at_ms < before_ms; });
  forgotten_before_ms = std::max(forgotten_before_ms, before_ms);
  return n;
}

}  // namespace ec::agent
