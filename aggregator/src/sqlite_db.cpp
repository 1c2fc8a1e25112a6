// SQLite wrapper: statements are prepared once per connection (SQLITE_PREPARE_PERSISTENT) and reused.
#include "sqlite_db.hpp"

#include <climits>

namespace ec::aggregator::sql {

error_code code_of(int sqlite_rc) noexcept {
  switch (sqlite_rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return error_code::timeout;
    case SQLITE_NOMEM:
      return error_code::out_of_memory;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
      return error_code::invalid_argument;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return error_code::malformed;
    default:
      return error_code::io_error;
  }
}

query::~query() {
  if (stmt_ != nullptr) reset();
}

void query::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

query& query::bind(int i, std::int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}

query& query::bind_text(int i, std::string_view v) {
  sqlite3_bind_text64(stmt_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  return *this;
}

query& query::bind_blob(int i, byte_span v) {
  // An empty blob must stay a zero-length blob, not NULL: sqlite binds a null pointer as NULL.
  static const std::uint8_t empty = 0;
  sqlite3_bind_blob64(stmt_, i, v.empty() ? &empty : v.data(), v.size(), SQLITE_TRANSIENT);
  return *this;
}

query& query::bind_null(int i) {
  sqlite3_bind_null(stmt_, i);
  return *this;
}

result<bool> query::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  // Rewound at the end (bindings kept), so the statement can be bound and run again at once.
  if (rc == SQLITE_DONE) {
    sqlite3_reset(stmt_);
    return false;
  }
  std::string msg = std::string("sqlite: ") + sqlite3_errmsg(db_) + " (in: " + sqlite3_sql(stmt_) + ")";
  sqlite3_reset(stmt_);
  return fail(code_of(rc), std::move(msg));
}

result<void> query::run() {
  for (;;) {
    auto r = step();
    if (!r) return r.err();
    if (!*r) return {};
  }
}

std::int64_t query::col_int(int i) const { return sqlite3_column_int64(stmt_, i); }

std::string query::col_text(int i) const {
  const auto* p = sqlite3_column_text(stmt_, i);
  const int n = sqlite3_column_bytes(stmt_, i);
  if (p == nullptr) return {};
  return {reinterpret_cast<const char*>(p), static_cast<std::size_t>(n)};
}

bytes query::col_blob(int i) const {
  const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, i));
  const int n = sqlite3_column_bytes(stmt_, i);
  if (p == nullptr) return {};
  return {p, p + n};
}

bool query::col_null(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }

result<std::unique_ptr<database>> database::open(const std::string& path, bool create) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (create) flags |= SQLITE_OPEN_CREATE;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = "sqlite: cannot open " + path + ": " + (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    return fail(code_of(rc), std::move(msg));
  }
  sqlite3_extended_result_codes(db, 1);
  return std::unique_ptr<database>(new database(db));
}

database::~database() {
  cache_.clear();  // finalize statements before closing
  sqlite3_close(db_);
}

result<void> database::exec(std::string_view sql, std::string_view what) {
  std::string text(sql);
  char* msg = nullptr;
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &msg);
  if (rc != SQLITE_OK) {
    std::string m = std::string("sqlite: ") + std::string(what) + ": " + (msg != nullptr ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return fail(code_of(rc), std::move(m));
  }
  return {};
}

result<query> database::prepare(std::string_view sql) {
  auto it = cache_.find(std::string(sql));
  if (it == cache_.end()) {
    sqlite3_stmt* s = nullptr;
    if (sql.size() > INT_MAX) return fail(error_code::invalid_argument, "sqlite: statement too long");
    const int rc =
        sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &s, nullptr);
    if (rc != SQLITE_OK) return fail(code_of(rc), "sqlite: prepare: " + std::string(sqlite3_errmsg(db_)));
    it = cache_.emplace(std::string(sql), std::unique_ptr<sqlite3_stmt, stmt_deleter>(s)).first;
  }
  return query(db_, it->second.get());
}

error database::failure(std::string_view what) const {
  return fail(code_of(sqlite3_errcode(db_)), "sqlite: " + std::string(what) + ": " + sqlite3_errmsg(db_));
}

result<transaction> transaction::begin(database& db) {
  const bool nested = in_transaction(db);
  auto q = db.prepare(nested ? "SAVEPOINT ec_nested" : "BEGIN IMMEDIATE");
  if (!q) return q.err();
  if (auto r = q->run(); !r) return r.err();
  return transaction(&db, nested);
}

transaction::~transaction() {
  if (db_ == nullptr) return;
  // A failed statement may already have rolled back the whole transaction; there is then nothing left to undo.
  if (!in_transaction(*db_)) return;
  if (nested_) {
    // Undo this savepoint's changes only; the enclosing transaction goes on.
    (void)db_->exec("ROLLBACK TO ec_nested; RELEASE ec_nested", "rollback to savepoint");
  } else {
    (void)db_->exec("ROLLBACK", "rollback");
  }
}

result<void> transaction::commit() {
  auto q = db_->prepare(nested_ ? "RELEASE ec_nested" : "COMMIT");
  if (!q) return q.err();
  if (auto r = q->run(); !r) return r.err();
  db_ = nullptr;
  return {};
}

}  // namespace ec::aggregator::sql
