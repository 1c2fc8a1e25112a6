// A thin RAII layer over the SQLite C API: one connection, cached prepared statements, transactions.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "ec/protocol/bytes.hpp"
#include "ec/protocol/error.hpp"

namespace ec::aggregator::sql {

using protocol::byte_span;
using protocol::bytes;

/// Returns the error of an ec::result expression from the enclosing function.
#define EC_SQL_TRY(expr)                   \
  do {                                     \
    if (auto ec_try_ = (expr); !ec_try_) { \
      return ec_try_.err();                \
    }                                      \
  } while (0)

/// A prepared statement borrowed from the connection's cache; reset and unbound when it goes out of scope.
class query {
 public:
  query(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~query();
  query(query&& other) noexcept : db_(other.db_), stmt_(other.stmt_) { other.stmt_ = nullptr; }
  query& operator=(query&&) = delete;
  query(const query&) = delete;
  query& operator=(const query&) = delete;

  /// Binds parameter i (1-based).
  query& bind(int i, std::int64_t v);
  query& bind_u64(int i, std::uint64_t v) { return bind(i, static_cast<std::int64_t>(v)); }
  query& bind_text(int i, std::string_view v);
  query& bind_blob(int i, byte_span v);
  query& bind_null(int i);

  /// Rewinds the statement and clears its bindings, for running it again.
  void reset();
  /// Steps once: true when a row is ready, false when done (the statement is then rewound, bindings kept).
  result<bool> step();
  /// Steps to the end, expecting no rows.
  result<void> run();

  [[nodiscard]] std::int64_t col_int(int i) const;
  [[nodiscard]] std::uint64_t col_u64(int i) const { return static_cast<std::uint64_t>(col_int(i)); }
  [[nodiscard]] std::uint32_t col_u32(int i) const { return static_cast<std::uint32_t>(col_int(i)); }
  [[nodiscard]] std::string col_text(int i) const;
  [[nodiscard]] bytes col_blob(int i) const;
  [[nodiscard]] bool col_null(int i) const;
  /// Copies a blob column into a fixed array; false when its size differs (a damaged row).
  template <std::size_t N>
  bool col_array(int i, std::array<std::uint8_t, N>& out) const {
    auto b = col_blob(i);
    if (b.size() != N) return false;
    std::copy(b.begin(), b.end(), out.begin());
    return true;
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

/// One connection. Not thread-safe by itself: sqlite_storage serialises calls with its mutex.
class database {
 public:
  /// Opens with SQLITE_OPEN_NOMUTEX (the caller serialises); `create` allows a new file.
  static result<std::unique_ptr<database>> open(const std::string& path, bool create);
  ~database();
  database(const database&) = delete;
  database& operator=(const database&) = delete;

  /// Runs one or more statements without results (schema, pragmas).
  result<void> exec(std::string_view sql, std::string_view what);
  /// A cached prepared statement for `sql`.
  result<query> prepare(std::string_view sql);
  /// An error carrying the connection's last message: "sqlite: <what>: <errmsg>".
  [[nodiscard]] error failure(std::string_view what) const;
  [[nodiscard]] sqlite3* handle() const { return db_; }
  [[nodiscard]] std::int64_t changes() const { return sqlite3_changes64(db_); }

 private:
  explicit database(sqlite3* db) : db_(db) {}
  struct stmt_deleter {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  sqlite3* db_;
  std::unordered_map<std::string, std::unique_ptr<sqlite3_stmt, stmt_deleter>> cache_;
};

/// A write transaction (BEGIN IMMEDIATE, so two writers never deadlock upgrading a read lock); rolled back
/// unless commit() succeeded. Begun inside another transaction (a storage_batch), it is a SAVEPOINT of it: its
/// commit only releases the savepoint, and the enclosing transaction's commit makes it durable.
class transaction {
 public:
  static result<transaction> begin(database& db);
  transaction(transaction&& other) noexcept : db_(other.db_), nested_(other.nested_) { other.db_ = nullptr; }
  transaction& operator=(transaction&&) = delete;
  transaction(const transaction&) = delete;
  transaction& operator=(const transaction&) = delete;
  ~transaction();
  /// Commits; with synchronous=FULL the commit is on disk when this returns (nested: releases the savepoint).
  result<void> commit();
  /// True when this is a savepoint inside an enclosing transaction.
  [[nodiscard]] bool nested() const { return nested_; }

 private:
  transaction(database* db, bool nested) : db_(db), nested_(nested) {}
  database* db_;
  bool nested_;
};

/// True while the connection is inside a transaction (BEGIN ... COMMIT not finished).
inline bool in_transaction(const database& db) { return sqlite3_get_autocommit(db.handle()) == 0; }

/// Maps a SQLite result code to the project's error codes.
error_code code_of(int sqlite_rc) noexcept;

}  // namespace ec::aggregator::sql
