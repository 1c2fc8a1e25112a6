// Helpers of the storage and ledger tests: temporary databases, raw SQL for tampering, enrolled agents, jobs.
#pragma once

#include <doctest/doctest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "ec/aggregator/sqlite_storage.hpp"
#include "ec/protocol/keys.hpp"
#include "ec/protocol/sha256.hpp"

namespace ec::aggregator::test {

namespace fs = std::filesystem;
using protocol::as_bytes;
using protocol::byte_span;

/// A fresh folder under /tmp (or $EC_STORAGE_TEST_DIR), removed with everything in it at the end of the test.
struct temp_dir {
  fs::path path;
  temp_dir() {
    const char* base = ::getenv("EC_STORAGE_TEST_DIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/ec-aggstore-XXXXXX";
    const char* made = ::mkdtemp(pattern.data());
    REQUIRE(made != nullptr);
    path = made;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  [[nodiscard]] fs::path db() const { return path / "region.db"; }
};

inline std::unique_ptr<sqlite_storage> open_db(const fs::path& path) {
  sqlite_options options;
  options.path = path;
  auto s = sqlite_storage::open(options);
  REQUIRE_MESSAGE(s.ok(), (s.ok() ? std::string() : s.err().what()));
  return std::move(s).value();
}

/// Requires success and returns the value; the message names the failure.
template <typename T>
T must(result<T> r) {
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.err().what()));
  return std::move(r).value();
}
inline void must(result<void> r) { REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.err().what())); }

/// A second, raw connection to the file: the operator (or an attacker) editing rows behind the aggregator.
class raw_db {
 public:
  explicit raw_db(const fs::path& path) {
    REQUIRE(sqlite3_open(path.c_str(), &db_) == SQLITE_OK);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~raw_db() { sqlite3_close(db_); }
  raw_db(const raw_db&) = delete;
  raw_db& operator=(const raw_db&) = delete;

  void exec(const std::string& sql) {
    char* msg = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &msg);
    const std::string text = msg != nullptr ? msg : "";
    sqlite3_free(msg);
    REQUIRE_MESSAGE(rc == SQLITE_OK, sql << ": " << text);
  }
  std::int64_t scalar(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) == SQLITE_OK);
    std::int64_t v = -1;
    if (sqlite3_step(s) == SQLITE_ROW) v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
  }
  std::string text(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) == SQLITE_OK);
    std::string v;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0) != nullptr)
      v = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return v;
  }
  /// Flips the low bit of the first byte of a text or blob cell, or of an integer cell.
  void flip(const std::string& table, const std::string& column, const std::string& where) {
    sqlite3_stmt* s = nullptr;
    const std::string sel = "SELECT " + column + " FROM " + table + " WHERE " + where;
    REQUIRE(sqlite3_prepare_v2(db_, sel.c_str(), -1, &s, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(s) == SQLITE_ROW);
    const int type = sqlite3_column_type(s, 0);
    std::vector<unsigned char> data;
    std::int64_t number = 0;
    if (type == SQLITE_INTEGER) {
      number = sqlite3_column_int64(s, 0) ^ 1;
    } else {
      const auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(s, 0));
      data.assign(p, p + sqlite3_column_bytes(s, 0));
      REQUIRE(!data.empty());
      data[0] ^= 1;
    }
    sqlite3_finalize(s);
    const std::string upd = "UPDATE " + table + " SET " + column + " = ?1 WHERE " + where;
    REQUIRE(sqlite3_prepare_v2(db_, upd.c_str(), -1, &s, nullptr) == SQLITE_OK);
    if (type == SQLITE_INTEGER)
      sqlite3_bind_int64(s, 1, number);
    else if (type == SQLITE_TEXT)
      sqlite3_bind_text(s, 1, reinterpret_cast<const char*>(data.data()), static_cast<int>(data.size()),
                        SQLITE_TRANSIENT);
    else
      sqlite3_bind_blob(s, 1, data.data(), static_cast<int>(data.size()), SQLITE_TRANSIENT);
    REQUIRE(sqlite3_step(s) == SQLITE_DONE);
    sqlite3_finalize(s);
  }

  /// Overwrites a blob cell.
  void set_blob(const std::string& table, const std::string& column, const std::string& where, byte_span v) {
    sqlite3_stmt* s = nullptr;
    const std::string upd = "UPDATE " + table + " SET " + column + " = ?1 WHERE " + where;
    REQUIRE(sqlite3_prepare_v2(db_, upd.c_str(), -1, &s, nullptr) == SQLITE_OK);
    sqlite3_bind_blob(s, 1, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    REQUIRE(sqlite3_step(s) == SQLITE_DONE);
    sqlite3_finalize(s);
  }

 private:
  sqlite3* db_ = nullptr;
};

inline sha256_digest digest_of(const std::string& s) { return protocol::sha256_of(as_bytes(s)); }
inline bytes bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

/// A stand-in key (storage never parses keys): id = SHA-256(name).
inline key_admission fake_key(const std::string& name, const std::string& principal) {
  key_admission k;
  k.id = digest_of("key " + name);
  k.agent_id = protocol::agent_id_of(k.id);
  k.public_key_der = bytes_of("spki of " + name);
  k.principal = principal;
  return k;
}

/// Enrolls a key from the allowlist; returns its agent_id.
inline std::string admit(storage& db, const std::string& name, const std::string& principal) {
  const auto k = fake_key(name, principal);
  must(db.admit_keys(std::span(&k, 1), principal_kind::allowlist, 1000));
  return k.agent_id;
}

/// A job of `units` work units "<job>/<i>", each wanting `replicas`.
inline void add_job(storage& db, const std::string& job_id, int units, std::uint32_t replicas,
                    const std::string& kernel = "saxpy", std::uint64_t cost = 10) {
  job_row j;
  j.job_id = job_id;
  j.kernel = kernel;
  j.spec = "kernel = \"" + kernel + "\"\n";
  j.quorum = replicas;
  j.created_at_ms = 1000;
  std::vector<work_unit_row> wus;
  for (int i = 0; i < units; ++i) {
    work_unit_row w;
    w.wu_id = job_id + "/" + std::to_string(i);
    w.job_id = job_id;
    w.payload = bytes_of("params " + std::to_string(i));
    w.replicas_wanted = replicas;
    w.cost = cost;
    wus.push_back(std::move(w));
  }
  must(db.insert_job(j, wus));
}

/// Leases up to `n` tasks to an agent as find_leasable offers them; returns the tasks committed.
inline std::vector<task_row> lease(storage& db, const std::string& agent_id, std::uint32_t n, std::uint64_t now_ms,
                                   const std::string& request_id, std::uint64_t lease_ms = 60'000) {
  auto key = must(db.find_agent(agent_id));
  REQUIRE(key.has_value());
  auto offered = must(db.find_leasable({agent_id, key->principal, {"saxpy"}, n, now_ms}));
  lease_commit c;
  c.agent_id = agent_id;
  c.request_id = request_id;
  c.now_ms = now_ms;
  for (const auto& o : offered) {
    task_row t;
    t.task_id = o.task_id;
    t.attempt = o.attempt;
    t.wu_id = o.wu_id;
    t.agent_id = agent_id;
    t.issued_at_ms = now_ms;
    t.lease_expires_ms = now_ms + lease_ms;
    t.blob = bytes_of("task " + o.task_id + " attempt " + std::to_string(o.attempt) + " for " + agent_id);
    t.task_digest = protocol::sha256_of(t.blob);
    c.tasks.push_back(std::move(t));
  }
  c.batch_bytes = bytes_of("batch " + request_id);
  auto outcome = must(db.commit_leases(c));
  REQUIRE_MESSAGE(outcome.committed, outcome.conflict);
  return c.tasks;
}

/// The result an agent returns for a task (status 0 = Ok), with a digest derived from `output`.
inline result_row result_for(const task_row& t, const std::string& output, std::uint8_t status = 0,
                             std::uint64_t at_ms = 5000) {
  result_row r;
  r.task_id = t.task_id;
  r.attempt = t.attempt;
  r.agent_id = t.agent_id;
  r.blob = bytes_of("result of " + t.task_id + ": " + output);
  r.result_digest = protocol::sha256_of(r.blob);
  r.output_digest = digest_of(output);
  r.status = status;
  r.received_at_ms = at_ms;
  return r;
}

}  // namespace ec::aggregator::test
