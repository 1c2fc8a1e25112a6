// The unit validator over a real database: quorum across principals, replicas added on disagreement, trust reset
// and clawback of a trusted key, idempotence; region Control requests in storage.
#include "ec/aggregator/unit_validator.hpp"

#include "validator_test_support.hpp"

namespace ec::aggregator::test {
namespace {

// A job whose units carry a real (exact-mode) Task template, as edgectl submit stores them.
void add_template_job(storage& db, const std::string& job_id, int units, std::uint32_t quorum,
                      std::uint32_t max_replicas = 6) {
  test::add_template_job(db, job_id, units, quorum, "max_replicas = " + std::to_string(max_replicas) + "\n");
}

struct fixture {
  temp_dir dir;
  std::unique_ptr<sqlite_storage> db = open_db(dir.db());
  std::unique_ptr<protocol::signer> key = make_signer();
  event_log log{log_level::error, [](std::string_view) {}};
  ledger book{*db, *key, ledger_config{}};
  adaptive_trust trust;
  unit_validator validator{*db, book, trust, log};
  explicit fixture(trust_config tc = {}) : trust(tc) {}
};

TEST_CASE("two principals agreeing validate a unit once, with a ledger entry and credits for both") {
  fixture f;
  const auto a = admit(*f.db, "a", "alice");
  const auto b = admit(*f.db, "b", "bob");
  add_template_job(*f.db, "j", 1, 2);
  const auto ta = lease(*f.db, a, 1, 2000, "ra");
  const auto tb = lease(*f.db, b, 1, 2000, "rb");
  must(f.db->store_results(std::vector{result_for(ta[0], "same")}));
  CHECK(must(f.validator.evaluate("j/0", 3000)) == unit_change::none);
  must(f.db->store_results(std::vector{result_for(tb[0], "same")}));
  CHECK(must(f.validator.evaluate("j/0", 3000)) == unit_change::validated);
  CHECK(must(f.validator.evaluate("j/0", 3001)) == unit_change::already_final);
  const auto wu = must(f.db->find_work_unit("j/0"));
  REQUIRE(wu.has_value());
  CHECK(wu->state == work_unit_state::validated);
  CHECK(wu->canonical_digest == digest_of("same"));
  const auto head = must(f.db->ledger_head());
  REQUIRE(head.has_value());
  CHECK(head->seq == 1);
  CHECK(head->principals == std::vector<std::string>{"alice", "bob"});
  CHECK(must(f.db->credit_balance("alice")) == 7);
  CHECK(must(f.db->credit_balance("bob")) == 7);
  CHECK(must(f.db->unsettled_work_units(10)).empty());
}

TEST_CASE("disagreement raises the replicas wanted and the majority of principals wins") {
  fixture f;
  const auto a = admit(*f.db, "a", "alice");
  const auto b = admit(*f.db, "b", "bob");
  const auto c = admit(*f.db, "c", "carol");
  add_template_job(*f.db, "j", 1, 2);
  const auto ta = lease(*f.db, a, 1, 2000, "ra");
  const auto tb = lease(*f.db, b, 1, 2000, "rb");
  must(f.db->store_results(std::vector{result_for(ta[0], "right"), result_for(tb[0], "wrong")}));
  CHECK(must(f.validator.evaluate("j/0", 3000)) == unit_change::more_replicas);
  CHECK(must(f.db->find_work_unit("j/0"))->replicas_wanted == 3);
  CHECK(must(f.db->unsettled_work_units(10)) == std::vector<std::string>{"j/0"});
  const auto tc = lease(*f.db, c, 1, 4000, "rc");
  REQUIRE(tc.size() == 1);
  must(f.db->store_results(std::vector{result_for(tc[0], "right")}));
  CHECK(must(f.validator.evaluate("j/0", 5000)) == unit_change::validated);
  CHECK(must(f.db->find_work_unit("j/0"))->canonical_digest == digest_of("right"));
  CHECK(must(f.db->credit_balance("bob")) == 0);
  CHECK(must(f.db->credit_balance("carol")) == 7);
  CHECK(f.trust.state(b).consecutive_valid == 0);
  CHECK(f.trust.state(a).consecutive_valid == 1);
}

TEST_CASE("a unit fails at the retry limit without agreement") {
  fixture f;
  const auto a = admit(*f.db, "a", "alice");
  const auto b = admit(*f.db, "b", "bob");
  add_template_job(*f.db, "j", 1, 2, 2);
  const auto ta = lease(*f.db, a, 1, 2000, "ra");
  const auto tb = lease(*f.db, b, 1, 2000, "rb");
  must(f.db->store_results(std::vector{result_for(ta[0], "x"), result_for(tb[0], "y")}));
  CHECK(must(f.validator.evaluate("j/0", 3000)) == unit_change::failed);
  CHECK(must(f.db->find_work_unit("j/0"))->state == work_unit_state::failed);
}

TEST_CASE("a trusted key caught by a quorum loses its trust and its credits since it became trusted") {
  trust_config tc;
  tc.trust_after = 1;
  fixture f(tc);
  const auto a = admit(*f.db, "a", "alice");
  const auto b = admit(*f.db, "b", "bob");
  const auto c = admit(*f.db, "c", "carol");
  add_template_job(*f.db, "j", 2, 2);
  // Unit 0: alice and bob agree; alice becomes trusted (trust_after = 1).
  auto ta = lease(*f.db, a, 1, 2000, "ra1");
  auto tb = lease(*f.db, b, 1, 2000, "rb1");
  must(f.db->store_results(std::vector{result_for(ta[0], "ok0"), result_for(tb[0], "ok0")}));
  CHECK(must(f.validator.evaluate("j/0", 3000)) == unit_change::validated);
  CHECK(f.trust.is_trusted(a));
  CHECK(must(f.db->find_agent(a))->trusted);
  CHECK(must(f.db->credit_balance("alice")) == 7);
  // Unit 1: alice is outvoted by bob and carol.
  ta = lease(*f.db, a, 1, 4000, "ra2");
  tb = lease(*f.db, b, 1, 4000, "rb2");
  must(f.db->store_results(std::vector{result_for(ta[0], "lie"), result_for(tb[0], "ok1")}));
  CHECK(must(f.validator.evaluate("j/1", 5000)) == unit_change::more_replicas);
  const auto tcs = lease(*f.db, c, 1, 6000, "rc2");
  must(f.db->store_results(std::vector{result_for(tcs[0], "ok1")}));
  CHECK(must(f.validator.evaluate("j/1", 7000)) == unit_change::validated);
  CHECK_FALSE(f.trust.is_trusted(a));
  CHECK_FALSE(must(f.db->find_agent(a))->trusted);
  CHECK(must(f.db->credit_balance("alice")) == 0);  // earned at 3000, after it became trusted: clawed back
}

TEST_CASE("region control requests get increasing seqs and are marked published once") {
  temp_dir dir;
  auto db = open_db(dir.db());
  CHECK_FALSE(must(db->latest_region_control()).has_value());
  const auto s1 = must(db->request_region_control(1, 100));
  const auto s2 = must(db->request_region_control(0, 200));
  CHECK(s2 > s1);
  auto latest = must(db->latest_region_control());
  REQUIRE(latest.has_value());
  CHECK(latest->seq == s2);
  CHECK(latest->desired_state == 0);
  CHECK(latest->published_at_ms == 0);
  must(db->mark_region_control_published(s2, 300));
  must(db->mark_region_control_published(s2, 400));
  CHECK(must(db->latest_region_control())->published_at_ms == 300);
  CHECK_FALSE(db->request_region_control(7, 500).ok());
}

}  // namespace
}  // namespace ec::aggregator::test
