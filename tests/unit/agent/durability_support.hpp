// Shared helpers of the journal, replay guard and result spool tests: a temporary state folder, tasks, files.
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "ec/agent/journal.hpp"
#include "ec/protocol/sha256.hpp"

namespace ec::agent::test {

namespace fs = std::filesystem;

/// A fresh folder under /tmp, removed with everything in it at the end of the test.
struct temp_dir {
  fs::path path;
  temp_dir() {
    char pattern[] = "/tmp/ec-durability-XXXXXX";
    const char* made = ::mkdtemp(pattern);
    REQUIRE(made != nullptr);
    path = made;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

inline std::unique_ptr<journal> open_journal(const fs::path& dir, journal_config config = {}) {
  config.dir = dir;
  auto j = journal::open(std::move(config));
  REQUIRE_MESSAGE(j.ok(), (j.ok() ? std::string() : j.err().what()));
  return std::move(j).value();
}

inline sha256_digest digest_of(const std::string& s) { return protocol::sha256_of(protocol::as_bytes(s)); }

inline bytes bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

inline task_admitted make_task(const std::string& id, std::uint32_t attempt, std::uint64_t expires_at_ms,
                               std::uint64_t reserved = 100, std::size_t blob_size = 32) {
  task_admitted t;
  t.task_id = id;
  t.attempt = attempt;
  t.expires_at_ms = expires_at_ms;
  t.task_blob.assign(blob_size, static_cast<std::uint8_t>(id.size() + attempt));
  t.task_digest = protocol::sha256_of(t.task_blob);
  t.reserved_output_bytes = reserved;
  return t;
}

inline bytes read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_all(const fs::path& p, const bytes& data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

/// Everything a journal_state holds, as text: two states are the same when their summaries are.
inline std::string summary(const journal_state& s) {
  std::string out = "control=" + std::to_string(s.control_seq) + " session=" + std::to_string(s.session_seq) +
                    " next_batch=" + std::to_string(s.next_batch_id) + " reserved=" + std::to_string(s.reserved_bytes) +
                    " spooled=" + std::to_string(s.spooled_bytes) + "\n";
  for (const auto& [k, t] : s.tasks) {
    out += "task " + k.task_id + "/" + std::to_string(k.attempt) + " exp=" + std::to_string(t.admitted.expires_at_ms) +
           " res=" + std::to_string(t.admitted.reserved_output_bytes) +
           " blob=" + protocol::to_hex(t.admitted.task_blob) + " dg=" + protocol::to_hex(t.admitted.task_digest) +
           (t.finished ? " finished" : "") + "\n";
  }
  for (const auto& [id, b] : s.batches) {
    out += "batch " + std::to_string(id) + " at=" + std::to_string(b.spooled.created_at_ms) +
           " env=" + protocol::to_hex(b.spooled.envelope) + " pub=" + std::to_string(b.publish_count) + "@" +
           std::to_string(b.last_published_ms);
    for (std::size_t i = 0; i < b.spooled.entries.size(); ++i) {
      const auto& e = b.spooled.entries[i];
      out += " [" + e.task_id + "/" + std::to_string(e.attempt) + " " + protocol::to_hex(e.result_digest) + " r" +
             std::to_string(static_cast<int>(b.receipts[i])) + "]";
    }
    out += "\n";
  }
  return out;
}

inline std::string summary(const journal& j) {
  return j.read([](const journal_state& s) { return summary(s); });
}

}  // namespace ec::agent::test
