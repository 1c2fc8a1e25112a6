// storage_batch on SQLite: one BEGIN IMMEDIATE transaction held, with the connection's mutex, from begin_batch()
// to commit() or destruction; the calls made meanwhile run as savepoints inside it.
#include <mutex>

#include "sqlite_storage_impl.hpp"

namespace ec::aggregator {
namespace {

class sqlite_batch final : public storage_batch {
 public:
  sqlite_batch(std::unique_lock<std::recursive_mutex> lock, sql::transaction tx)
      : lock_(std::move(lock)), tx_(std::move(tx)) {}

  result<void> commit() override {
    if (committed_) return fail(error_code::invalid_argument, "storage batch already committed");
    EC_SQL_TRY(tx_.commit());
    committed_ = true;
    return {};
  }

 private:
  std::unique_lock<std::recursive_mutex> lock_;  // declared first: released after the transaction ends
  sql::transaction tx_;
  bool committed_ = false;
};

}  // namespace

result<std::unique_ptr<storage_batch>> sqlite_storage::begin_batch() {
  std::unique_lock lock(impl_->mu);
  auto tx = sql::transaction::begin(*impl_->db);
  if (!tx) return tx.err();
  return std::unique_ptr<storage_batch>(std::make_unique<sqlite_batch>(std::move(lock), std::move(*tx)));
}

}  // namespace ec::aggregator
