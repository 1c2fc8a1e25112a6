// storage_batch: a ResultBatch's storage calls commit as one transaction, each call still all-or-nothing inside it.
#include <doctest/doctest.h>

#include "storage_test_support.hpp"

using namespace ec::aggregator;
using namespace ec::aggregator::test;

namespace {

// Two agents of two principals, one job of one unit wanting 2 replicas, each agent holding one replica.
struct two_replicas {
  temp_dir dir;
  std::unique_ptr<sqlite_storage> db = open_db(dir.db());
  std::string a = admit(*db, "a", "alice");
  std::string b = admit(*db, "b", "bob");
  std::vector<task_row> ta, tb;
  two_replicas() {
    add_job(*db, "job", 1, 2);
    ta = lease(*db, a, 1, 2000, "ra");
    tb = lease(*db, b, 1, 2000, "rb");
    REQUIRE(ta.size() == 1);
    REQUIRE(tb.size() == 1);
  }
  [[nodiscard]] validation_commit agreed() const {
    validation_commit v;
    v.wu_id = "job/0";
    v.canonical_digest = digest_of("out");
    v.principals = {"alice", "bob"};
    v.credits = {{"alice", a, 10}, {"bob", b, 10}};
    v.now_ms = 9000;
    return v;
  }
};

}  // namespace

TEST_CASE("a storage batch's results and validation are invisible to other connections until it commits") {
  two_replicas f;
  raw_db other(f.dir.db());
  auto batch = must(f.db->begin_batch());
  must(f.db->store_results(std::vector{result_for(f.ta[0], "out")}));
  must(f.db->store_results(std::vector{result_for(f.tb[0], "out")}));
  REQUIRE(must(f.db->validate_work_unit(f.agreed())).has_value());
  // The batch's own connection reads its uncommitted writes; another connection does not.
  CHECK(must(f.db->find_work_unit("job/0"))->state == work_unit_state::validated);
  CHECK(other.scalar("SELECT count(*) FROM results") == 0);
  CHECK(other.scalar("SELECT count(*) FROM ledger") == 0);
  must(batch->commit());
  CHECK(other.scalar("SELECT count(*) FROM results") == 2);
  CHECK(other.scalar("SELECT count(*) FROM ledger") == 1);
  CHECK(other.scalar("SELECT amount FROM credits WHERE principal = 'alice'") == 10);
  CHECK_FALSE(batch->commit().ok());  // a second commit is refused, not a crash
}

TEST_CASE("a storage batch dropped before commit leaves nothing of its calls") {
  two_replicas f;
  {
    auto batch = must(f.db->begin_batch());
    must(f.db->store_results(std::vector{result_for(f.ta[0], "out")}));
    must(f.db->store_results(std::vector{result_for(f.tb[0], "out")}));
    REQUIRE(must(f.db->validate_work_unit(f.agreed())).has_value());
  }
  raw_db raw(f.dir.db());
  CHECK(raw.scalar("SELECT count(*) FROM results") == 0);
  CHECK(raw.scalar("SELECT count(*) FROM ledger") == 0);
  CHECK(must(f.db->find_work_unit("job/0"))->state == work_unit_state::running);
  CHECK(must(f.db->find_task(f.ta[0].task_id, f.ta[0].attempt))->state == task_state::leased);
  CHECK(must(f.db->credit_balance("alice")) == 0);
  // The connection is usable again, outside any batch.
  CHECK(must(f.db->store_results(std::vector{result_for(f.ta[0], "out")})).size() == 1);
  CHECK(raw.scalar("SELECT count(*) FROM results") == 1);
}

TEST_CASE("a call that fails inside a storage batch rolls back alone and the batch commits the rest") {
  two_replicas f;
  // Fails the ledger append after the work unit was marked validated: that call's savepoint must undo the mark.
  raw_db(f.dir.db())
      .exec("CREATE TRIGGER fail_append BEFORE INSERT ON ledger BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
  auto batch = must(f.db->begin_batch());
  must(f.db->store_results(std::vector{result_for(f.ta[0], "out")}));
  // A call whose second row is refused: its first row must not stay either.
  auto forged = result_for(f.tb[0], "out");
  forged.agent_id = f.a;
  CHECK_FALSE(f.db->store_results(std::vector{result_for(f.tb[0], "out"), forged}).ok());
  auto failed = f.db->validate_work_unit(f.agreed());
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.err().message.find("injected failure") != std::string::npos);
  must(batch->commit());

  raw_db raw(f.dir.db());
  CHECK(raw.scalar("SELECT count(*) FROM results") == 1);
  CHECK(raw.scalar("SELECT count(*) FROM results WHERE agent_id = '" + f.a + "'") == 1);
  CHECK(raw.scalar("SELECT count(*) FROM ledger") == 0);
  CHECK(must(f.db->find_work_unit("job/0"))->state == work_unit_state::running);
  CHECK(must(f.db->find_task(f.tb[0].task_id, f.tb[0].attempt))->state == task_state::leased);
  CHECK(must(f.db->credit_balance("alice")) == 0);
}
