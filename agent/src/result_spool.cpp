// The result spool (see result_spool.hpp); its state is the journal's, this file holds the policy.
#include "ec/agent/result_spool.hpp"

#include <algorithm>
#include <cstdio>
#include <set>
#include <system_error>

#include "durable_file.hpp"
#include "ec/agent/config.hpp"

namespace ec::agent {

namespace fs = std::filesystem;

namespace {

constexpr const char* dead_letter_ext = ".ecw";  // a SignedEnvelope (file identifier ECW1)

std::size_t count_dead_letters(const fs::path& dir) {
  std::size_t n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_regular_file(ec) && e.path().extension() == dead_letter_ext) ++n;
  }
  return n;
}

fs::path dead_letter_file(const fs::path& dir, std::uint64_t batch_id, std::uint64_t created_at_ms) {
  char name[80];
  std::snprintf(name, sizeof name, "batch-%016llx-%llu%s", static_cast<unsigned long long>(batch_id),
                static_cast<unsigned long long>(created_at_ms), dead_letter_ext);
  return dir / name;
}

}  // namespace

result_spool_config result_spool_config::from(const spool_config& section) {
  result_spool_config c;
  c.capacity_bytes = section.max_bytes;
  c.ttl_ms = std::uint64_t{section.ttl_s} * 1000;
  c.first_retry_ms = std::uint64_t{section.republish_initial_s} * 1000;
  c.max_retry_ms = std::uint64_t{section.republish_max_s} * 1000;
  return c;
}

result<std::unique_ptr<result_spool>> result_spool::open(journal& j, result_spool_config config) {
  if (config.dead_letter_dir.empty()) config.dead_letter_dir = j.path().parent_path() / "dead-letter";
  if (auto made = detail::ensure_dir(config.dead_letter_dir); !made) return made.err();
  std::unique_ptr<result_spool> s(new result_spool(j, std::move(config)));
  s->dead_letters_ = count_dead_letters(s->config_.dead_letter_dir);
  return s;
}

result<void> result_spool::reserve(std::vector<task_admitted> tasks) {
  std::lock_guard lock(mu_);
  std::uint64_t need = 0;
  std::uint64_t in_use = 0;
  journal_.read([&](const journal_state& s) {
    std::set<task_key> counted;
    for (const auto& t : tasks) {
      task_key key{t.task_id, t.attempt};
      if (!s.tasks.contains(key) && counted.insert(std::move(key)).second) need += t.reserved_output_bytes;
    }
    in_use = s.spooled_bytes + s.reserved_bytes;
  });
  if (in_use + need > config_.capacity_bytes || need > config_.capacity_bytes) {
    return fail(error_code::unavailable, "result spool full: " + std::to_string(need) + " bytes needed, " +
                                             std::to_string(in_use) + " of " + std::to_string(config_.capacity_bytes) +
                                             " in use");
  }
  std::vector<journal_record> group;
  group.reserve(tasks.size());
  for (auto& t : tasks) group.emplace_back(std::move(t));
  return journal_.write(std::move(group));
}

bool result_spool::can_reserve(std::uint64_t n) const {
  return journal_.read([&](const journal_state& s) {
    return n <= config_.capacity_bytes && s.spooled_bytes + s.reserved_bytes + n <= config_.capacity_bytes;
  });
}

result<std::uint64_t> result_spool::spool(bytes envelope, std::vector<result_entry> entries, std::uint64_t now_ms) {
  // A batch without results could never be released by a receipt: it would sit until the TTL.
  if (entries.empty()) return fail(error_code::invalid_argument, "a result batch to spool has no results");
  std::lock_guard lock(mu_);
  const std::uint64_t id = journal_.read([](const journal_state& s) { return s.next_batch_id; });
  std::vector<journal_record> group;
  group.reserve(entries.size() + 1);
  // task_finished in the same group: after a crash a task is either finished and spooled, or neither.
  for (const auto& e : entries) group.emplace_back(task_finished{e.task_id, e.attempt});
  group.emplace(group.begin(), result_batch_spooled{id, now_ms, std::move(entries), std::move(envelope)});
  if (auto w = journal_.write(std::move(group)); !w) return w.err();
  return id;
}

result<release_report> result_spool::release(std::span<const receipt_entry> entries) {
  std::lock_guard lock(mu_);
  release_report rep;
  std::vector<journal_record> group;
  std::set<std::uint64_t> touched;
  journal_.read([&](const journal_state& s) {
    for (const auto& r : entries) {
      auto [lo, hi] = s.batch_of.equal_range(task_key{r.task_id, r.attempt});
      bool match = false;
      for (auto b = lo; b != hi; ++b) {
        for (const auto& e : s.batches.at(b->second).spooled.entries) {
          if (e.task_id == r.task_id && e.attempt == r.attempt && e.result_digest == r.result_digest) match = true;
        }
        touched.insert(b->second);
      }
      // A digest that differs is a receipt for some other result: ours was not judged, keep it.
      if (match) group.emplace_back(receipt_applied{r.task_id, r.attempt, r.result_digest, r.accepted, r.reason});
      (match ? rep.applied : lo == hi ? rep.unknown : rep.mismatched) += 1;
    }
  });
  mismatched_ += rep.mismatched;
  if (group.empty()) return rep;
  if (auto w = journal_.write(std::move(group)); !w) return w.err();
  journal_.read([&](const journal_state& s) {
    for (const std::uint64_t id : touched) {
      if (!s.batches.contains(id)) rep.released.push_back(id);
    }
  });
  for (const std::uint64_t id : rep.released) timers_.erase(id);
  return rep;
}

std::uint64_t result_spool::retry_after(std::uint32_t publish_count) const {
  std::uint64_t wait = config_.first_retry_ms;
  for (std::uint32_t i = 1; i < publish_count && wait < config_.max_retry_ms; ++i) wait *= 2;
  return std::min(wait, config_.max_retry_ms);
}

std::vector<due_batch> result_spool::due(std::uint64_t now_ms, bool all) {
  std::lock_guard lock(mu_);
  std::vector<due_batch> out;
  std::vector<journal_record> group;
  journal_.read([&](const journal_state& s) {
    std::erase_if(timers_, [&](const auto& kv) { return !s.batches.contains(kv.first); });
    for (const auto& [id, b] : s.batches) {
      timer& t = timers_[id];
      t.publish_count = std::max(t.publish_count, b.publish_count);
      t.last_published_ms = std::max(t.last_published_ms, b.last_published_ms);
      if (!all && now_ms < t.last_published_ms + retry_after(t.publish_count)) continue;
      ++t.publish_count;
      t.last_published_ms = now_ms;
      out.push_back(due_batch{id, t.publish_count, b.spooled.envelope});
      group.emplace_back(batch_published{id, t.publish_count, now_ms});
    }
  });
  // No sync of its own: losing a timer in a crash only means an earlier republish, which is harmless.
  journal_.append(std::move(group));
  republished_ += out.size();
  return out;
}

result<std::vector<dead_lettered_batch>> result_spool::dead_letter(std::uint64_t now_ms) {
  std::lock_guard lock(mu_);
  std::vector<dead_lettered_batch> out;
  std::vector<bytes> envelopes;
  journal_.read([&](const journal_state& s) {
    for (const auto& [id, b] : s.batches) {
      if (now_ms - std::min(now_ms, b.spooled.created_at_ms) < config_.ttl_ms) continue;
      out.push_back({id, b.spooled.created_at_ms, {}, b.spooled.entries});
      envelopes.push_back(b.spooled.envelope);
    }
  });
  std::vector<journal_record> group;
  result<void> written;
  for (std::size_t i = 0; i < out.size() && written; ++i) {
    out[i].file = dead_letter_file(config_.dead_letter_dir, out[i].batch_id, out[i].created_at_ms);
    // The file first, then the journal: a crash in between writes the same file again at the next call.
    written = detail::write_file_durably(out[i].file, envelopes[i]);
    if (written) group.emplace_back(batch_dead_lettered{out[i].batch_id, now_ms});
  }
  const std::size_t moved = group.size();
  if (auto w = journal_.write(std::move(group)); !w) return w.err();
  dead_letters_ += moved;
  if (!written) return written.err();
  return out;
}

std::vector<task_admitted> result_spool::unfinished() const {
  return journal_.read([](const journal_state& s) {
    std::vector<task_admitted> out;
    for (const auto& [key, t] : s.tasks) {
      if (!t.finished) out.push_back(t.admitted);
    }
    return out;
  });
}

spool_stats result_spool::stats() const {
  std::lock_guard lock(mu_);
  spool_stats st;
  journal_.read([&](const journal_state& s) {
    st.pending_batches = s.batches.size();
    st.spooled_bytes = s.spooled_bytes;
    st.reserved_bytes = s.reserved_bytes;
    st.unfinished_tasks = static_cast<std::size_t>(
        std::count_if(s.tasks.begin(), s.tasks.end(), [](const auto& kv) { return !kv.second.finished; }));
  });
  st.capacity_bytes = config_.capacity_bytes;
  st.dead_letters = dead_letters_;
  st.republished = republished_;
  st.mismatched_receipts = mismatched_;
  return st;
}

}  // namespace ec::agent
