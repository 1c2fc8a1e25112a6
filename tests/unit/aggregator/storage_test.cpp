// The SQLite storage on real files: migrations, idempotent results, atomic validation, leases, enrollment.
#include <chrono>

#include "storage_test_support.hpp"

namespace ec::aggregator {
namespace {

using namespace ec::aggregator::test;

TEST_CASE("a new database is migrated from empty and a reopen applies nothing") {
  temp_dir dir;
  {
    auto db = open_db(dir.db());
    CHECK(db->open_report().created);
    CHECK(db->open_report().found_version == 0);
    CHECK(db->open_report().migrations_applied == sqlite_schema_version);
    add_job(*db, "job1", 3, 2);
  }
  auto db = open_db(dir.db());
  CHECK_FALSE(db->open_report().created);
  CHECK(db->open_report().found_version == sqlite_schema_version);
  CHECK(db->open_report().migrations_applied == 0);
  CHECK(must(db->count_work_units("job1")).pending == 3);
  raw_db raw(dir.db());
  CHECK(raw.text("PRAGMA journal_mode") == "wal");
  CHECK(raw.scalar("SELECT count(*) FROM schema_version") == sqlite_schema_version);
}

TEST_CASE("a database with a newer schema is refused with a clear error") {
  temp_dir dir;
  { auto db = open_db(dir.db()); }
  {
    raw_db raw(dir.db());
    raw.exec("INSERT INTO schema_version (version, applied_at_ms) VALUES (99, 0)");
  }
  sqlite_options options;
  options.path = dir.db();
  auto db = sqlite_storage::open(options);
  REQUIRE_FALSE(db.ok());
  CHECK(db.code() == error_code::unsupported);
  CHECK(db.err().message.find("schema version 99 is newer") != std::string::npos);
}

TEST_CASE("a SQLite file of another application is refused, and a missing file is not created on request") {
  temp_dir dir;
  {
    raw_db raw(dir.db());
    raw.exec("CREATE TABLE notes (x TEXT)");
  }
  sqlite_options options;
  options.path = dir.db();
  auto db = sqlite_storage::open(options);
  REQUIRE_FALSE(db.ok());
  CHECK(db.err().message.find("not an edgecompute aggregator database") != std::string::npos);

  options.path = dir.path / "absent.db";
  options.create = false;
  auto absent = sqlite_storage::open(options);
  REQUIRE_FALSE(absent.ok());
  CHECK(absent.err().message.find("absent.db") != std::string::npos);
  CHECK_FALSE(fs::exists(options.path));
}

TEST_CASE("a redelivered result is counted, never stored twice") {
  temp_dir dir;
  auto db = open_db(dir.db());
  const auto a = admit(*db, "a", "alice");
  add_job(*db, "job", 2, 1);
  auto tasks = lease(*db, a, 2, 2000, "r1");
  REQUIRE(tasks.size() == 2);
  const std::vector<result_row> batch{result_for(tasks[0], "out0"), result_for(tasks[1], "out1")};

  auto first = must(db->store_results(batch));
  REQUIRE(first.size() == 2);
  CHECK(first[0].inserted);
  CHECK(first[1].inserted);
  CHECK(first[0].redelivery_count == 0);

  auto again = must(db->store_results(batch));
  CHECK_FALSE(again[0].inserted);
  CHECK(again[0].redelivery_count == 1);
  CHECK(again[0].stored_result_digest == batch[0].result_digest);

  // A different body under the same key is a redelivery too: the first committed row stays.
  auto changed = result_for(tasks[0], "something else");
  auto third = must(db->store_results(std::span(&changed, 1)));
  CHECK_FALSE(third[0].inserted);
  CHECK(third[0].redelivery_count == 2);
  CHECK(third[0].stored_result_digest == batch[0].result_digest);

  raw_db raw(dir.db());
  CHECK(raw.scalar("SELECT count(*) FROM results") == 2);
  auto stored = must(db->find_result(tasks[0].task_id, tasks[0].attempt, a));
  REQUIRE(stored.has_value());
  CHECK(stored->blob == batch[0].blob);
  CHECK(stored->redelivery_count == 2);
  auto task = must(db->find_task(tasks[0].task_id, tasks[0].attempt));
  REQUIRE(task.has_value());
  CHECK(task->state == task_state::returned);
  CHECK(must(db->results_for_work_unit(tasks[0].wu_id)).size() == 1);
}

TEST_CASE("a result for a task leased to another agent, or for no task, is refused and nothing is stored") {
  temp_dir dir;
  auto db = open_db(dir.db());
  const auto a = admit(*db, "a", "alice");
  const auto b = admit(*db, "b", "bob");
  add_job(*db, "job", 1, 1);
  auto tasks = lease(*db, a, 1, 2000, "r1");
  auto forged = result_for(tasks[0], "out");
  forged.agent_id = b;
  auto r = db->store_results(std::span(&forged, 1));
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().message.find("leased to " + a) != std::string::npos);
  auto unknown = result_for(tasks[0], "out");
  unknown.task_id = "nope";
  CHECK_FALSE(db->store_results(std::span(&unknown, 1)).ok());
  raw_db raw(dir.db());
  CHECK(raw.scalar("SELECT count(*) FROM results") == 0);
}

TEST_CASE("validation and its ledger entry commit together or not at all") {
  temp_dir dir;
  auto db = open_db(dir.db());
  const auto a = admit(*db, "a", "alice");
  const auto b = admit(*db, "b", "bob");
  add_job(*db, "job", 1, 2);
  auto ta = lease(*db, a, 1, 2000, "ra");
  auto tb = lease(*db, b, 1, 2000, "rb");
  must(db->store_results(std::vector{result_for(ta[0], "out")}));
  must(db->store_results(std::vector{result_for(tb[0], "out")}));

  validation_commit v;
  v.wu_id = "job/0";
  v.canonical_digest = digest_of("out");
  v.principals = {"bob", "alice", "bob"};
  v.credits = {{"alice", a, 10}, {"bob", b, 10}};
  v.now_ms = 9000;
  {
    // A failure between the work-unit update and the ledger append: the whole transaction must roll back.
    raw_db raw(dir.db());
    raw.exec("CREATE TRIGGER fail_append BEFORE INSERT ON ledger BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
  }
  auto failed = db->validate_work_unit(v);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.err().message.find("injected failure") != std::string::npos);
  CHECK(must(db->find_work_unit("job/0"))->state == work_unit_state::running);
  CHECK(must(db->credit_balance("alice")) == 0);
  CHECK_FALSE(must(db->ledger_head()).has_value());
  CHECK(must(db->find_job("job"))->state == job_state::active);

  raw_db(dir.db()).exec("DROP TRIGGER fail_append");
  auto entry = must(db->validate_work_unit(v));
  REQUIRE(entry.has_value());
  CHECK(entry->seq == 1);
  CHECK(entry->principals == std::vector<std::string>{"alice", "bob"});
  auto wu = must(db->find_work_unit("job/0"));
  CHECK(wu->state == work_unit_state::validated);
  CHECK(wu->canonical_digest == digest_of("out"));
  CHECK(wu->ledger_seq == 1);
  CHECK(must(db->credit_balance("alice")) == 10);
  CHECK(must(db->credit_balance("bob")) == 10);
  CHECK(must(db->find_job("job"))->state == job_state::done);

  // A second validation (another aggregator racing) writes nothing.
  CHECK_FALSE(must(db->validate_work_unit(v)).has_value());
  CHECK(must(db->credit_balance("alice")) == 10);
  CHECK(must(db->ledger_head())->seq == 1);
}

TEST_CASE("an expired lease is reassigned with attempt + 1, and a late valid result still counts") {
  temp_dir dir;
  auto db = open_db(dir.db());
  const auto a = admit(*db, "a", "alice");
  const auto b = admit(*db, "b", "bob");
  add_job(*db, "job", 1, 1);
  auto ta = lease(*db, a, 1, 1000, "ra", 5000);
  REQUIRE(ta.size() == 1);
  CHECK(ta[0].attempt == 1);
  CHECK(must(db->find_leasable({b, "bob", {"saxpy"}, 4, 2000})).empty());  // one replica wanted, one live

  CHECK(must(db->expire_leases(5999)).empty());
  auto expired = must(db->expire_leases(6000));
  REQUIRE(expired.size() == 1);
  CHECK(expired[0].task_id == ta[0].task_id);
  CHECK(expired[0].agent_id == a);
  CHECK(must(db->find_work_unit("job/0"))->state == work_unit_state::pending);

  auto tb = lease(*db, b, 1, 6000, "rb");
  REQUIRE(tb.size() == 1);
  CHECK(tb[0].task_id == ta[0].task_id);
  CHECK(tb[0].attempt == 2);
  CHECK(must(db->find_task(ta[0].task_id, 1))->state == task_state::expired);

  // The late result of attempt 1 is stored; the slot stays with attempt 2.
  auto late = must(db->store_results(std::vector{result_for(ta[0], "out")}));
  CHECK(late[0].inserted);
  CHECK(must(db->find_task(ta[0].task_id, 1))->has_ok_result);
  CHECK(must(db->find_work_unit("job/0"))->live_replicas == 1);
  CHECK(must(db->results_for_work_unit("job/0")).size() == 1);
}

TEST_CASE("a late valid result revives its expired slot when the slot was not reassigned yet") {
  temp_dir dir;
  auto db = open_db(dir.db());
  const auto a = admit(*db, "a", "alice");
  const auto b = admit(*db, "b", "bob");
  add_job(*db, "job", 1, 1);
  auto ta = lease(*db, a, 1, 1000, "ra", 1000);
  REQUIRE(must(db->expire_leases(2000)).size() == 1);
  must(db->store_results(std::vector{result_for(ta[0], "out")}));
  CHECK(must(db->find_task(ta[0].task_id, 1))->state == task_state::returned);
  CHECK(must(db->find_work_unit("job/0"))->state == work_unit_state::running);
  CHECK(must(db->find_leasable({b, "bob", {"saxpy"}, 4, 3000})).empty());
}

TEST_CASE("a failed or rejected result frees the slot at once, and release frees a lease") {
  temp_dir dir;
  auto db = open_db(dir.db());
  const auto a = admit(*db, "a", "alice");
  const auto b = admit(*db, "b", "bob");
  add_job(*db, "job", 2, 1);
  auto ta = lease(*db, a, 2, 1000, "ra");
  REQUIRE(ta.size() == 2);
  must(db->store_results(std::vector{result_for(ta[0], "", 3 /* Rejected */)}));
  must(db->release_task(ta[1].task_id, ta[1].attempt));
  must(db->release_task(ta[1].task_id, ta[1].attempt));  // idempotent
  CHECK(must(db->find_task(ta[0].task_id, 1))->state == task_state::freed);
  CHECK(must(db->count_work_units("job")).pending == 2);
  auto tb = lease(*db, b, 4, 1500, "rb");
  REQUIRE(tb.size() == 2);
  CHECK(tb[0].attempt == 2);
  CHECK(tb[1].attempt == 2);
  // Alice holds no live lease and no Ok result on them any more: she may take again the unit she released once bob
  // frees it, but not the one she answered Rejected (she would refuse it again).
  must(db->release_task(tb[0].task_id, 2));
  CHECK(must(db->find_leasable({a, "alice", {"saxpy"}, 4, 1600})).empty());
  must(db->release_task(tb[1].task_id, 2));
  const auto again = must(db->find_leasable({a, "alice", {"saxpy"}, 4, 1600}));
  REQUIRE(again.size() == 1);
  CHECK(again[0].wu_id == ta[1].wu_id);
}

TEST_CASE("replicas of a work unit never go to one principal") {
  temp_dir dir;
  auto db = open_db(dir.db());
  const auto a1 = admit(*db, "a1", "acme");
  const auto a2 = admit(*db, "a2", "acme");
  const auto a3 = admit(*db, "a3", "acme");
  const auto b = admit(*db, "b", "bob");
  add_job(*db, "job", 3, 2);

  auto t1 = lease(*db, a1, 10, 1000, "r1");
  CHECK(t1.size() == 3);  // one replica of each work unit
  // acme's other agents get nothing: each work unit already has acme's replica.
  auto offered = must(db->find_leasable({a2, "acme", {"saxpy"}, 10, 1000}));
  CHECK(offered.empty());
  auto tb = lease(*db, b, 10, 1000, "rb");
  CHECK(tb.size() == 3);
  CHECK(must(db->find_leasable({a3, "acme", {"saxpy"}, 10, 1000})).empty());

  // A stale offer cannot be committed: storage re-checks the principal inside the transaction.
  must(db->set_replicas_wanted("job/0", 3));
  lease_commit c;
  c.agent_id = a2;
  c.request_id = "stale";
  c.now_ms = 1000;
  task_row t = t1[0];
  t.task_id = t1[0].wu_id + "#9";
  t.agent_id = a2;
  c.tasks.push_back(t);
  auto outcome = must(db->commit_leases(c));
  CHECK_FALSE(outcome.committed);
  CHECK(outcome.conflict.find("principal acme already holds a replica") != std::string::npos);
  CHECK_FALSE(must(db->find_batch(a2, "stale")).has_value());

  // When acme's lease expires without a result, another acme agent may take the slot.
  CHECK(must(db->find_leasable({a2, "acme", {"saxpy"}, 10, 1000})).empty());
  auto expired = must(db->expire_leases(1000 + 60'000));
  CHECK(expired.size() == 6);
  CHECK(must(db->find_leasable({a2, "acme", {"saxpy"}, 10, 70'000})).size() == 3);
}

TEST_CASE("a repeated WorkRequest gets the stored batch bytes, and a request id is answered once") {
  temp_dir dir;
  auto db = open_db(dir.db());
  const auto a = admit(*db, "a", "alice");
  add_job(*db, "job", 2, 1);
  lease(*db, a, 1, 1000, "req-1");
  auto stored = must(db->find_batch(a, "req-1"));
  REQUIRE(stored.has_value());
  CHECK(*stored == bytes_of("batch req-1"));
  CHECK_FALSE(must(db->find_batch(a, "req-2")).has_value());

  auto offered = must(db->find_leasable({a, "alice", {"saxpy"}, 1, 1000}));
  REQUIRE(offered.size() == 1);
  lease_commit c;
  c.agent_id = a;
  c.request_id = "req-1";
  auto outcome = must(db->commit_leases(c));
  CHECK_FALSE(outcome.committed);
  CHECK(must(db->prune_batches(1001)) == 1);
  CHECK_FALSE(must(db->find_batch(a, "req-1")).has_value());
}

TEST_CASE("leases follow kernels, job state and deadlines") {
  temp_dir dir;
  auto db = open_db(dir.db());
  const auto a = admit(*db, "a", "alice");
  add_job(*db, "job", 2, 1, "sgemm");
  CHECK(must(db->find_leasable({a, "alice", {"saxpy"}, 4, 1000})).empty());
  CHECK(must(db->find_leasable({a, "alice", {"saxpy", "sgemm"}, 4, 1000})).size() == 2);
  must(db->set_job_state("job", job_state::paused));
  CHECK(must(db->find_leasable({a, "alice", {"sgemm"}, 4, 1000})).empty());
  CHECK_FALSE(db->set_job_state("nope", job_state::paused).ok());
}

TEST_CASE("a token enrolls keys up to its limit and then refuses") {
  temp_dir dir;
  auto db = open_db(dir.db());
  token_row t;
  t.token_hash = digest_of("ect1_secret");
  t.principal = "fleet-7";
  t.key_limit = 2;
  t.created_at_ms = 1000;
  t.expires_at_ms = 100'000;
  must(db->add_token(t));

  auto k1 = must(db->enroll_with_token(t.token_hash, fake_key("k1", ""), 2000));
  CHECK(k1.principal == "fleet-7");
  // A repeated hello with the same key does not use the token again.
  CHECK(must(db->enroll_with_token(t.token_hash, fake_key("k1", ""), 2100)).agent_id == k1.agent_id);
  must(db->enroll_with_token(t.token_hash, fake_key("k2", ""), 2200));
  CHECK(must(db->find_token(t.token_hash))->used == 2);

  auto third = db->enroll_with_token(t.token_hash, fake_key("k3", ""), 2300);
  REQUIRE_FALSE(third.ok());
  CHECK(third.code() == error_code::untrusted_key);
  CHECK(third.err().message.find("limit of 2 keys") != std::string::npos);
  CHECK_FALSE(must(db->find_agent_key(fake_key("k3", "").id)).has_value());

  auto unknown = db->enroll_with_token(digest_of("guess"), fake_key("k4", ""), 2400);
  CHECK(unknown.err().message.find("unknown enrollment token") != std::string::npos);

  token_row old = t;
  old.token_hash = digest_of("ect1_old");
  old.key_limit = 5;
  must(db->add_token(old));
  auto late = db->enroll_with_token(old.token_hash, fake_key("k5", ""), 100'000);
  CHECK(late.err().message.find("expired") != std::string::npos);

  // An allowlisted principal cannot be taken over by a token of the same name.
  admit(*db, "x", "listed");
  token_row clash = t;
  clash.token_hash = digest_of("ect1_clash");
  clash.principal = "listed";
  CHECK_FALSE(db->add_token(clash).ok());
  CHECK(must(db->list_agents()).size() == 3);
}

TEST_CASE("open mode makes every key its own principal, hellos follow session_seq") {
  temp_dir dir;
  auto db = open_db(dir.db());
  const std::vector<key_admission> keys{fake_key("p", "ignored"), fake_key("q", "ignored")};
  must(db->admit_keys(keys, principal_kind::open, 1000));
  auto p = must(db->find_agent_key(keys[0].id));
  REQUIRE(p.has_value());
  CHECK(p->principal == keys[0].agent_id);

  must(db->record_hello(p->agent_id, 5, true, bytes_of("hello 5"), 1000));
  must(db->record_hello(p->agent_id, 4, false, bytes_of("old will"), 1100));  // a stale will: still online
  CHECK(must(db->find_agent(p->agent_id))->online);
  must(db->record_hello(p->agent_id, 5, false, bytes_of("will 5"), 1200));
  CHECK_FALSE(must(db->find_agent(p->agent_id))->online);
  CHECK_FALSE(db->record_hello("unknown", 1, true, {}, 1300).ok());
  CHECK_FALSE(db->ensure_principal("bad\nname", principal_kind::allowlist, 1).ok());
}

TEST_CASE("status counts work units per state and agents' throughput") {
  temp_dir dir;
  auto db = open_db(dir.db());
  const auto a = admit(*db, "a", "alice");
  add_job(*db, "job", 4, 1);
  auto ta = lease(*db, a, 3, 1000, "r");
  must(db->store_results(std::vector{result_for(ta[0], "x", 0, 2000), result_for(ta[1], "", 1, 2500)}));
  must(db->fail_work_unit("job/3", "retry limit", 3000));
  CHECK_FALSE(db->fail_work_unit("job/3", "again", 3000).ok());
  auto c = must(db->count_work_units(""));
  CHECK(c.running == 2);  // job/0 returned, job/2 leased
  CHECK(c.pending == 1);  // job/1 freed by a kernel error
  CHECK(c.failed == 1);
  must(db->set_trust(a, 4, false, 0));
  auto stats = must(db->agent_throughput(2000));
  REQUIRE(stats.size() == 1);
  CHECK(stats[0].results_since == 2);
  CHECK(stats[0].ok_results_since == 1);
  CHECK(stats[0].last_result_ms == 2500);
  CHECK(stats[0].trust_streak == 4);
  CHECK(must(db->agent_throughput(2600))[0].results_since == 0);
}

TEST_CASE("claw back removes what a caught agent earned since it became trusted") {
  temp_dir dir;
  auto db = open_db(dir.db());
  const auto a = admit(*db, "a", "alice");
  add_job(*db, "job", 3, 1);
  auto ta = lease(*db, a, 3, 1000, "r");
  for (int i = 0; i < 3; ++i) {
    validation_commit v;
    v.wu_id = ta[static_cast<std::size_t>(i)].wu_id;
    v.canonical_digest = digest_of("out");
    v.principals = {"alice"};
    v.credits = {{"alice", a, 10}};
    v.now_ms = 1000 + static_cast<std::uint64_t>(i) * 1000;
    REQUIRE(must(db->validate_work_unit(v)).has_value());
  }
  CHECK(must(db->credit_balance("alice")) == 30);
  CHECK(must(db->unreplicated_validations(a, 2000)) == std::vector<std::string>{"job/1", "job/2"});
  CHECK(must(db->claw_back(a, 2000, "caught by a ringer", 5000)) == 20);
  CHECK(must(db->credit_balance("alice")) == 10);
  CHECK(must(db->claw_back(a, 2000, "again", 5000)) == 0);
}

// Figure for docs/performance.md: durable results/s, one transaction (one WAL fsync) per ResultBatch of 64.
TEST_CASE("benchmark: committed results per second, WAL + synchronous FULL, 64 results per transaction") {
  temp_dir dir;
  auto db = open_db(dir.db());
  const auto a = admit(*db, "a", "alice");
  constexpr int batches = 40;
  constexpr int per_batch = 64;
  add_job(*db, "job", batches * per_batch, 1);
  std::vector<task_row> tasks;
  for (int i = 0; i < batches; ++i) {
    auto t = lease(*db, a, per_batch, 1000, "r" + std::to_string(i));
    tasks.insert(tasks.end(), t.begin(), t.end());
  }
  REQUIRE(tasks.size() == batches * per_batch);
  std::vector<std::vector<result_row>> rows(batches);
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    auto r = result_for(tasks[i], "output " + std::to_string(i));
    r.blob.resize(512, 0xAB);  // a small Result blob: tensor data of a tiny task, a signature, metadata
    rows[i / per_batch].push_back(std::move(r));
  }
  const auto start = std::chrono::steady_clock::now();
  for (const auto& b : rows) REQUIRE(must(db->store_results(b)).size() == per_batch);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  MESSAGE("committed " << tasks.size() << " results in " << batches
                       << " transactions: " << (static_cast<double>(tasks.size()) / s) << " results/s, "
                       << (s / batches * 1e3) << " ms per batch of " << per_batch);
  CHECK(raw_db(dir.db()).scalar("SELECT count(*) FROM results") == batches * per_batch);
}

}  // namespace
}  // namespace ec::aggregator
