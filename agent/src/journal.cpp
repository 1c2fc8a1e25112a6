// The journal file: open and replay, grouped commits with one fdatasync, crash-safe compaction.
#include "ec/agent/journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "durable_file.hpp"
#include "ec/common/failpoint.hpp"
#include "journal_codec.hpp"

namespace ec::agent {

namespace fs = std::filesystem;
using detail::io_fail;

namespace {

constexpr const char* journal_name = "journal.ecj";
constexpr const char* lock_name = "journal.lock";

fs::path temp_of(const fs::path& p) {
  fs::path t = p;
  t += ".tmp";  // the name detail::write_file_durably() uses
  return t;
}

// Takes an exclusive lock on the state directory: two agents appending to one journal would interleave records.
result<int> lock_dir(const fs::path& dir) {
  const fs::path p = dir / lock_name;
  const int fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return io_fail("cannot open", p, errno);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return fail(error_code::unavailable, "state directory " + dir.string() + " is used by another process");
    }
    return io_fail("cannot lock", p, err);
  }
  return fd;
}

// What the scan of a journal's records found.
struct scan_result {
  std::uint64_t valid_end = 0;  // end of the last complete group
  std::uint64_t bad_at = 0;     // start of the first bad frame; the file size when none was bad
  std::string why;
};

template <typename OnGroup>
scan_result scan(protocol::byte_span file, std::uint32_t max_record_bytes, OnGroup&& on_group) {
  scan_result s;
  s.valid_end = detail::file_header_size;
  std::vector<journal_record> group;
  std::size_t pos = detail::file_header_size;
  while (pos < file.size()) {
    detail::decoded_frame f = detail::decode_frame(file.subspan(pos), max_record_bytes);
    if (f.state != detail::decoded_frame::status::ok) {
      s.why = f.why;
      s.bad_at = pos;
      return s;
    }
    group.push_back(std::move(f.record));
    pos += f.size;
    if (f.group_end) {
      on_group(group);
      group.clear();
      s.valid_end = pos;
    }
  }
  if (!group.empty()) s.why = "unterminated group of " + std::to_string(group.size()) + " records";
  s.bad_at = file.size();
  return s;
}

// Whole records follow the damage (a flipped bit mid-file, not a torn or zero-filled tail): the cut loses them,
// so keep a copy for forensics. Searching for any valid frame is slow only on this rare path.
bool worth_preserving(protocol::byte_span file, const scan_result& s, std::uint32_t max_record_bytes) {
  for (std::size_t i = static_cast<std::size_t>(s.bad_at) + 1; i + detail::frame_header_size <= file.size(); ++i) {
    if (file[i] != (detail::frame_magic & 0xFFu) || file[i + 1] != (detail::frame_magic >> 8)) continue;
    if (detail::decode_frame(file.subspan(i), max_record_bytes).state == detail::decoded_frame::status::ok) {
      return true;
    }
  }
  return false;
}

// Failpoint agent.journal_mid_record: the first half of a commit's first record reaches the disk, a torn tail.
[[maybe_unused]] void write_torn_record(int fd, const bytes& out, const journal_record& first, std::uint64_t at,
                                        const fs::path& path) {
  bytes frame;
  detail::encode_frame(frame, first, false);
  const auto half = protocol::byte_span(out).first(std::max<std::size_t>(1, frame.size() / 2));
  if (detail::write_all_at(fd, half, at, path)) ::fdatasync(fd);
}

}  // namespace

result<std::unique_ptr<journal>> journal::open(journal_config config) {
  if (auto made = detail::ensure_dir(config.dir); !made) return made.err();
  auto lock = lock_dir(config.dir);
  if (!lock) return lock.err();
  std::unique_ptr<journal> j(new journal());
  j->lock_fd_ = *lock;
  j->config_ = std::move(config);
  j->path_ = j->config_.dir / journal_name;
  std::lock_guard guard(j->mu_);
  if (auto r = j->replay_locked(); !r) return r.err();
  return j;
}

journal::~journal() {
  if (fd_ >= 0) ::close(fd_);
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

result<void> journal::replay_locked() {
  const fs::path temp = temp_of(path_);
  std::error_code ec;
  if (fs::exists(temp, ec)) {
    // A compaction (or the creation) died before its rename: the journal itself is still the truth.
    if (::unlink(temp.c_str()) != 0) return io_fail("cannot remove", temp, errno);
    report_.removed_stale_temp = true;
  }
  if (!fs::exists(path_, ec) || fs::file_size(path_, ec) == 0) {
    if (auto w = detail::write_file_durably(path_, detail::file_header()); !w) return w;
    report_.created = true;
  }
  auto file = detail::read_file(path_);
  if (!file) return file.err();
  if (const std::string why = detail::check_file_header(*file); !why.empty()) {
    return fail(error_code::malformed, "journal " + path_.string() + ": " + why + "; refusing to overwrite it");
  }
  const scan_result s = scan(*file, config_.max_record_bytes, [&](const std::vector<journal_record>& group) {
    for (const auto& r : group) state_.apply(r);
    report_.records += group.size();
    ++report_.groups;
  });
  if (auto r = reopen_locked(); !r) return r;
  end_ = s.valid_end;
  report_.cut_bytes = file->size() - s.valid_end;
  if (report_.cut_bytes == 0) return {};
  report_.cut_reason = s.why;
  if (worth_preserving(*file, s, config_.max_record_bytes)) {
    report_.preserved_cut = path_;
    report_.preserved_cut += ".cut-at-" + std::to_string(s.valid_end);
    const auto cut = protocol::byte_span(*file).subspan(static_cast<std::size_t>(s.valid_end));
    if (auto w = detail::write_file_durably(report_.preserved_cut, cut); !w) return w;
  }
  if (::ftruncate(fd_, static_cast<off_t>(end_)) != 0) return io_fail("cannot truncate", path_, errno);
  if (::fsync(fd_) != 0) return io_fail("cannot fsync", path_, errno);
  return {};
}

result<void> journal::reopen_locked() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = ::open(path_.c_str(), O_RDWR | O_CLOEXEC);
  if (fd_ < 0) return io_fail("cannot open", path_, errno);
  return {};
}

void journal::append(std::vector<journal_record> group) {
  if (group.empty()) return;
  std::lock_guard lock(mu_);
  buffer_.push_back(std::move(group));
}

result<void> journal::commit() {
  std::lock_guard lock(mu_);
  return commit_locked();
}

result<void> journal::write(std::vector<journal_record> group) {
  std::lock_guard lock(mu_);
  if (!group.empty()) buffer_.push_back(std::move(group));
  return commit_locked();
}

result<void> journal::commit_locked() {
  if (!failed_.empty()) return fail(error_code::io_error, failed_);
  if (buffer_.empty()) return {};
  bytes out;
  std::size_t records = 0;
  for (const auto& group : buffer_) {
    for (std::size_t i = 0; i < group.size(); ++i) detail::encode_frame(out, group[i], i + 1 == group.size());
    records += group.size();
  }
  auto groups = std::move(buffer_);
  buffer_.clear();
  EC_FAILPOINT_WITH("agent.journal_mid_record", write_torn_record(fd_, out, groups.front().front(), end_, path_));
  if (auto w = detail::write_all_at(fd_, out, end_, path_); !w) {
    // Leave no partial group behind for the next commit to follow; replay would cut it anyway.
    if (::ftruncate(fd_, static_cast<off_t>(end_)) != 0) failed_ = w.err().message;
    return w;
  }
  if (::fdatasync(fd_) != 0) {
    // After a failed sync the kernel may have dropped the dirty pages: only a reopen (replay) tells the truth.
    failed_ = io_fail("cannot fdatasync", path_, errno).message + " (reopen the journal)";
    return fail(error_code::io_error, failed_);
  }
  end_ += out.size();
  ++stats_.commits;
  ++stats_.fdatasyncs;
  stats_.records_written += records;
  for (const auto& group : groups) {
    for (const auto& r : group) state_.apply(r);
  }
  return {};
}

result<void> journal::compact(std::uint64_t now_ms) {
  std::lock_guard lock(mu_);
  return compact_locked(now_ms);
}

result<bool> journal::maybe_compact(std::uint64_t now_ms) {
  std::lock_guard lock(mu_);
  if (end_ < config_.compact_min_bytes) return false;
  const std::uint64_t live = live_bytes_locked();
  if (live * 100 > end_ * (100 - std::min<std::uint32_t>(config_.compact_dead_percent, 100))) return false;
  if (auto r = compact_locked(now_ms); !r) return r.err();
  return true;
}

result<void> journal::compact_locked(std::uint64_t now_ms) {
  if (auto r = commit_locked(); !r) return r;
  state_.forget_finished(now_ms > config_.forget_margin_ms ? now_ms - config_.forget_margin_ms : 0);
  bytes out = detail::file_header();
  detail::encode_frame(out, journal_meta{state_.next_batch_id, state_.forgotten_before_ms}, true);
  detail::encode_frame(out, control_seq{state_.control_seq}, true);
  detail::encode_frame(out, session_seq{state_.session_seq}, true);
  for (const auto& [key, t] : state_.tasks) {
    detail::encode_frame(out, t.admitted, !t.finished);
    if (t.finished) detail::encode_frame(out, task_finished{key.task_id, key.attempt}, true);
  }
  for (const auto& [id, b] : state_.batches) {
    detail::encode_frame(out, b.spooled, true);
    for (std::size_t i = 0; i < b.receipts.size(); ++i) {
      if (b.receipts[i] == receipt_state::none) continue;
      const result_entry& e = b.spooled.entries[i];
      detail::encode_frame(
          out, receipt_applied{e.task_id, e.attempt, e.result_digest, b.receipts[i] == receipt_state::accepted, {}},
          true);
    }
    detail::encode_frame(out, batch_published{id, b.publish_count, b.last_published_ms}, true);
  }
  // temp + fsync + rename + fsync(dir): a crash leaves either the old file or the new one, never a mix.
  if (auto w = detail::write_file_durably(path_, out); !w) {
    struct stat by_fd {
    }, by_name{};
    if (::fstat(fd_, &by_fd) != 0 || ::stat(path_.c_str(), &by_name) != 0 || by_fd.st_ino != by_name.st_ino) {
      failed_ = w.err().message + " (compaction state unknown: reopen the journal)";
    }
    return w;
  }
  if (auto r = reopen_locked(); !r) {
    failed_ = r.err().message;
    return r;
  }
  end_ = out.size();
  ++stats_.compactions;
  return {};
}

std::uint64_t journal::live_bytes_locked() const {
  constexpr std::uint64_t frame = detail::frame_header_size;
  std::uint64_t n = detail::file_header_size + 3 * (frame + 16);
  for (const auto& [key, t] : state_.tasks) {
    n += 2 * frame + 2 * (8 + key.task_id.size()) + 56 + t.admitted.task_blob.size();
  }
  for (const auto& [id, b] : state_.batches) {
    n += 2 * frame + 40 + b.spooled.envelope.size();
    for (const auto& e : b.spooled.entries) n += 2 * (frame + 45 + e.task_id.size());
  }
  return n;
}

journal_stats journal::stats() const {
  std::lock_guard lock(mu_);
  journal_stats s = stats_;
  s.file_bytes = end_;
  for (const auto& g : buffer_) s.buffered_records += g.size();
  return s;
}

}  // namespace ec::agent
