// Adaptive replication over a real database: a trusted key's unit leased unreplicated is accepted on its lone
// result, a caught key's unreplicated units are re-opened and its credits clawed back, known-answer ringers judge
// the key that answers them, and the job's max_attempts bounds lease expiries per task.
#include "ec/aggregator/task_template.hpp"
#include "ec/aggregator/unit_validator.hpp"
#include "ec/kernels/catalog.hpp"
#include "ec/protocol/digests.hpp"
#include "validator_test_support.hpp"

namespace ec::aggregator::test {
namespace {

// A job of exact-mode saxpy templates with the given quorum and max_attempts (the spec is what policy_for reads).
void add_job_with(storage& db, const std::string& job_id, int units, std::uint32_t quorum,
                  std::uint32_t max_attempts = 3) {
  add_template_job(db, job_id, units, quorum, "max_attempts = " + std::to_string(max_attempts) + "\n");
}

// Leases like lease() in the support header, but asks for unreplicated (single) leases, as the service does for a
// trusted key whose coin said "no replica".
std::vector<task_row> lease_single(storage& db, const std::string& agent_id, std::uint64_t now_ms,
                                   const std::string& request_id) {
  auto key = must(db.find_agent(agent_id));
  REQUIRE(key.has_value());
  auto offered = must(db.find_leasable({agent_id, key->principal, {"saxpy"}, 1, now_ms}));
  REQUIRE(offered.size() == 1);
  lease_commit c;
  c.agent_id = agent_id;
  c.request_id = request_id;
  c.now_ms = now_ms;
  task_row t;
  t.task_id = offered[0].task_id;
  t.attempt = offered[0].attempt;
  t.wu_id = offered[0].wu_id;
  t.agent_id = agent_id;
  t.issued_at_ms = now_ms;
  t.lease_expires_ms = now_ms + 1000;
  t.blob = bytes_of("single task " + t.task_id + " for " + agent_id);
  t.task_digest = protocol::sha256_of(t.blob);
  t.single = true;
  c.tasks.push_back(t);
  c.batch_bytes = bytes_of("batch " + request_id);
  auto outcome = must(db.commit_leases(c));
  REQUIRE_MESSAGE(outcome.committed, outcome.conflict);
  return c.tasks;
}

struct fixture {
  temp_dir dir;
  std::unique_ptr<sqlite_storage> db = open_db(dir.db());
  std::unique_ptr<protocol::signer> key = make_signer();
  event_log log{log_level::error, [](std::string_view) {}};
  ledger book{*db, *key, ledger_config{}};
  adaptive_trust trust;
  unit_validator validator{*db, book, trust, log};
  std::string a, b, c;
  explicit fixture(std::uint32_t trust_after = 1) : trust(trust_config{trust_after, 2, 0}) {
    a = admit(*db, "a", "alice");
    b = admit(*db, "b", "bob");
    c = admit(*db, "c", "carol");
  }
  // Unit `wu` validated by alice and bob agreeing: alice (and bob) earn one valid replicated result.
  void agree(const std::string& wu, std::uint64_t now) {
    const auto ta = lease(*db, a, 1, now, "ra" + wu);
    const auto tb = lease(*db, b, 1, now, "rb" + wu);
    REQUIRE(ta.size() == 1);
    REQUIRE(ta[0].wu_id == wu);
    must(db->store_results(std::vector{result_for(ta[0], "ok " + wu), result_for(tb[0], "ok " + wu)}));
    REQUIRE(must(validator.evaluate(wu, now + 1)) == unit_change::validated);
  }
};

TEST_CASE("a trusted key's never-issued unit leased unreplicated is validated on its lone result") {
  fixture f;
  add_job_with(*f.db, "j", 2, 2);
  f.agree("j/0", 2000);
  REQUIRE(f.trust.is_trusted(f.a));
  const auto t = lease_single(*f.db, f.a, 3000, "ra-single");
  REQUIRE(t[0].wu_id == "j/1");
  const auto wu = must(f.db->find_work_unit("j/1"));
  CHECK(wu->replicas_wanted == 1);
  CHECK(wu->single_agent == f.a);
  // Nobody else is offered the unit: it wants no more replicas.
  CHECK(must(f.db->find_leasable({f.b, "bob", {"saxpy"}, 5, 3100})).empty());
  must(f.db->store_results(std::vector{result_for(t[0], "alone", 0, 3200)}));
  CHECK(must(f.validator.evaluate("j/1", 3300)) == unit_change::validated);
  const auto head = must(f.db->ledger_head());
  REQUIRE(head.has_value());
  CHECK(head->principals == std::vector<std::string>{"alice"});
  CHECK(must(f.db->unreplicated_validations(f.a, 2001)) == std::vector<std::string>{"j/1"});
  CHECK(f.trust.state(f.a).consecutive_valid == 1);  // an unreplicated result earns no trust
}

TEST_CASE("a caught trusted key has its unreplicated units re-opened and its credits clawed back") {
  fixture f;
  add_job_with(*f.db, "j", 3, 2);
  f.agree("j/0", 2000);
  const auto single = lease_single(*f.db, f.a, 3000, "ra-single");  // j/1
  must(f.db->store_results(std::vector{result_for(single[0], "lie", 0, 3100)}));
  REQUIRE(must(f.validator.evaluate("j/1", 3200)) == unit_change::validated);
  CHECK(must(f.db->credit_balance("alice")) == 14);
  // j/2: alice lies again, replicated this time; bob and carol outvote her.
  const auto ta = lease(*f.db, f.a, 1, 4000, "ra2");
  const auto tb = lease(*f.db, f.b, 1, 4000, "rb2");
  must(f.db->store_results(std::vector{result_for(ta[0], "lie2", 0, 4100), result_for(tb[0], "ok2", 0, 4100)}));
  REQUIRE(must(f.validator.evaluate("j/2", 4200)) == unit_change::more_replicas);
  const auto tc = lease(*f.db, f.c, 1, 4300, "rc2");
  REQUIRE(tc[0].wu_id == "j/2");
  must(f.db->store_results(std::vector{result_for(tc[0], "ok2", 0, 4400)}));
  REQUIRE(must(f.validator.evaluate("j/2", 4500)) == unit_change::validated);
  CHECK_FALSE(f.trust.is_trusted(f.a));
  CHECK(must(f.db->credit_balance("alice")) == 0);
  // j/1 is back for validation by quorum: no canonical result, one more replica wanted, the job active again.
  const auto reopened = must(f.db->find_work_unit("j/1"));
  CHECK(reopened->state == work_unit_state::running);
  CHECK_FALSE(reopened->canonical_digest.has_value());
  CHECK(reopened->replicas_wanted == 2);
  CHECK(reopened->single_agent.empty());
  CHECK(must(f.db->find_job("j"))->state == job_state::active);
  const auto tb1 = lease(*f.db, f.b, 1, 5000, "rb1");
  REQUIRE(tb1.size() == 1);
  REQUIRE(tb1[0].wu_id == "j/1");
  must(f.db->store_results(std::vector{result_for(tb1[0], "ok1", 0, 5100)}));
  CHECK(must(f.validator.evaluate("j/1", 5200)) == unit_change::more_replicas);  // bob disagrees with alice
  const auto tc1 = lease(*f.db, f.c, 1, 5250, "rc1");
  REQUIRE(tc1.size() == 1);
  must(f.db->store_results(std::vector{result_for(tc1[0], "ok1", 0, 5300)}));
  CHECK(must(f.validator.evaluate("j/1", 5400)) == unit_change::validated);
  CHECK(must(f.db->find_work_unit("j/1"))->canonical_digest == digest_of("ok1"));
  CHECK(must(f.db->find_job("j"))->state == job_state::done);
}

TEST_CASE("an unreplicated unit whose key lost its trust before the result came is replicated again") {
  fixture f;
  add_job_with(*f.db, "j", 2, 2);
  f.agree("j/0", 2000);
  const auto single = lease_single(*f.db, f.a, 3000, "ra-single");
  (void)f.trust.record_invalid(f.a);  // caught elsewhere meanwhile
  must(f.db->store_results(std::vector{result_for(single[0], "late", 0, 3100)}));
  CHECK(must(f.validator.evaluate("j/1", 3200)) == unit_change::more_replicas);
  const auto wu = must(f.db->find_work_unit("j/1"));
  CHECK(wu->state == work_unit_state::running);
  CHECK(wu->replicas_wanted == 2);
  CHECK(wu->single_agent.empty());
}

TEST_CASE("an unreplicated lease that expires gives the unit its quorum back") {
  fixture f;
  add_job_with(*f.db, "j", 2, 2);
  f.agree("j/0", 2000);
  (void)lease_single(*f.db, f.a, 3000, "ra-single");
  must(f.db->expire_leases(10'000));
  const auto wu = must(f.db->find_work_unit("j/1"));
  CHECK(wu->replicas_wanted == 2);
  CHECK(wu->single_agent.empty());
  CHECK(must(f.db->find_leasable({f.b, "bob", {"saxpy"}, 5, 10'001})).size() == 1);
}

TEST_CASE("a single lease of a unit that already has a replica is an ordinary replica") {
  fixture f;
  add_job_with(*f.db, "j", 2, 2);
  f.agree("j/0", 2000);
  (void)lease(*f.db, f.b, 1, 3000, "rb1");  // bob takes j/1 first
  const auto t = lease_single(*f.db, f.a, 3000, "ra-single");
  REQUIRE(t[0].wu_id == "j/1");
  const auto wu = must(f.db->find_work_unit("j/1"));
  CHECK(wu->replicas_wanted == 2);
  CHECK(wu->single_agent.empty());
}

// A ringer from saxpy's known-answer sample, and the Result blob an agent answering `outputs` would send.
ringer saxpy_ringer() {
  const auto* spec = kernels::find_kernel("saxpy");
  REQUIRE(spec != nullptr);
  auto sample = make_ringer(*spec);
  REQUIRE(sample.ok());
  sample->task.job_id = "j";
  auto r = make_reference_ringer(sample->task);
  REQUIRE(r.ok());
  return std::move(r).value();
}

result_row ringer_result(const task_row& t, std::vector<protocol::tensor> outputs) {
  protocol::task_result res;
  res.task_id = t.task_id;
  res.agent_id = t.agent_id;
  res.task_digest.assign(t.task_digest.begin(), t.task_digest.end());
  res.outputs = std::move(outputs);
  std::vector<protocol::tensor_ref> refs;
  for (const auto& o : res.outputs) refs.push_back(o.ref());
  const auto d = protocol::output_digest(refs);
  res.output_digest.assign(d.begin(), d.end());
  result_row r;
  r.task_id = t.task_id;
  r.attempt = t.attempt;
  r.agent_id = t.agent_id;
  r.blob = protocol::build(res);
  r.result_digest = protocol::sha256_of(r.blob);
  r.output_digest = d;
  r.received_at_ms = 6000;
  return r;
}

// Leases one ringer unit to `agent` in its own batch, as the service does.
task_row lease_ringer(storage& db, const ringer& r, const std::string& agent, const std::string& wu_id) {
  lease_commit c;
  c.agent_id = agent;
  c.request_id = "ring " + wu_id;
  c.now_ms = 5000;
  work_unit_row unit;
  unit.wu_id = wu_id;
  unit.job_id = ringer_job_id;
  unit.payload = encode_task_template(r.task);
  unit.ringer_answer = encode_ringer_answer(r);
  c.ringers.push_back(unit);
  task_row t;
  t.task_id = wu_id + "#0";
  t.wu_id = wu_id;
  t.agent_id = agent;
  t.issued_at_ms = 5000;
  t.lease_expires_ms = 9000;
  t.blob = bytes_of("ringer task " + wu_id);
  t.task_digest = protocol::sha256_of(t.blob);
  c.tasks.push_back(t);
  c.batch_bytes = bytes_of("batch " + wu_id);
  auto outcome = must(db.commit_leases(c));
  REQUIRE_MESSAGE(outcome.committed, outcome.conflict);
  return t;
}

TEST_CASE("ringer units are leased only with their batch and never counted as the operator's work") {
  fixture f;
  add_job_with(*f.db, "j", 1, 2);
  const auto r = saxpy_ringer();
  (void)lease_ringer(*f.db, r, f.a, "j/0~1");
  CHECK(must(f.db->find_leasable({f.b, "bob", {"saxpy"}, 5, 5001})).size() == 1);  // j/0 only
  CHECK(must(f.db->count_leasable(5001)) == 1);
  const auto all = must(f.db->count_work_units(""));
  CHECK(all.pending + all.running == 1);
  CHECK(must(f.db->find_job(ringer_job_id))->state == job_state::paused);
}

TEST_CASE("a right ringer answer earns trust, a wrong one from a trusted key catches it") {
  fixture f(2);
  add_job_with(*f.db, "j", 2, 2);
  f.agree("j/0", 2000);
  const auto r = saxpy_ringer();
  const auto t1 = lease_ringer(*f.db, r, f.a, "j/0~1");
  must(f.db->store_results(std::vector{ringer_result(t1, r.expected)}));
  CHECK(must(f.validator.evaluate("j/0~1", 6100)) == unit_change::validated);
  CHECK(f.trust.is_trusted(f.a));                         // one replicated result + one right ringer = trust_after 2
  CHECK(must(f.db->ledger_entries(1, 100)).size() == 1);  // ringers make no ledger entry
  const auto single = lease_single(*f.db, f.a, 6200, "ra-single");
  must(f.db->store_results(std::vector{result_for(single[0], "unchecked", 0, 6300)}));
  REQUIRE(must(f.validator.evaluate("j/1", 6400)) == unit_change::validated);

  auto wrong = r.expected;
  REQUIRE(!wrong.empty());
  REQUIRE(!wrong[0].data.empty());
  wrong[0].data[std::min<std::size_t>(3, wrong[0].data.size() - 1)] ^= 0x40;  // an exponent bit: off by far
  const auto t2 = lease_ringer(*f.db, r, f.a, "j/0~2");
  must(f.db->store_results(std::vector{ringer_result(t2, wrong)}));
  CHECK(must(f.validator.evaluate("j/0~2", 7000)) == unit_change::failed);
  CHECK_FALSE(f.trust.is_trusted(f.a));
  CHECK(must(f.db->find_work_unit("j/0~2"))->fail_reason.find("wrong ringer answer") != std::string::npos);
  CHECK(must(f.db->find_work_unit("j/1"))->state == work_unit_state::running);  // re-issued
  CHECK(must(f.db->credit_balance("alice")) == 7);  // j/0 was earned before trust; j/1 clawed back
}

TEST_CASE("a task whose lease expires max_attempts times fails its unit, a ringer fails at its first") {
  fixture f;
  add_job_with(*f.db, "j", 1, 1, 2);
  (void)lease(*f.db, f.a, 1, 2000, "r1", 100);
  auto expired = must(f.db->expire_leases(3000));
  REQUIRE(expired.size() == 1);
  CHECK(must(f.validator.on_lease_expired(expired[0], 3000)) == unit_change::none);
  const auto again = lease(*f.db, f.b, 1, 4000, "r2", 100);
  REQUIRE(again.size() == 1);
  CHECK(again[0].attempt == 2);
  expired = must(f.db->expire_leases(5000));
  REQUIRE(expired.size() == 1);
  CHECK(must(f.validator.on_lease_expired(expired[0], 5000)) == unit_change::failed);
  const auto wu = must(f.db->find_work_unit("j/0"));
  CHECK(wu->state == work_unit_state::failed);
  CHECK(wu->fail_reason.find("max_attempts 2") != std::string::npos);

  const auto r = saxpy_ringer();
  (void)lease_ringer(*f.db, r, f.c, "j/0~9");
  expired = must(f.db->expire_leases(10'000));
  REQUIRE(expired.size() == 1);
  CHECK(must(f.validator.on_lease_expired(expired[0], 10'000)) == unit_change::failed);
  CHECK(f.trust.state(f.c).invalid_total == 0);  // an unanswered ringer proves nothing
}

}  // namespace
}  // namespace ec::aggregator::test
