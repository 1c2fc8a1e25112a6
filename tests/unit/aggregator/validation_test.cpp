// Quorum validation across principals: exact by digest, tolerance element-wise (NaN only matches NaN, infinities
// exactly, -0 == +0), keys of one principal never form a quorum, disagreement adds replicas until the limit.
#include "ec/aggregator/validation.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "ec/protocol/digests.hpp"

namespace ec::aggregator {
namespace {

using protocol::result_status;

protocol::tensor f32(std::vector<float> v) {
  protocol::tensor t{"z", protocol::dtype::f32, {v.size()}, {}};
  t.data.resize(v.size() * 4);
  std::memcpy(t.data.data(), v.data(), t.data.size());
  return t;
}

replica_result ok(std::string agent, std::string principal, std::vector<float> values) {
  replica_result r;
  r.agent_id = std::move(agent);
  r.principal = std::move(principal);
  r.outputs = {f32(std::move(values))};
  const auto d = protocol::output_digest({r.outputs[0].ref()});
  r.output_digest.assign(d.begin(), d.end());
  return r;
}

replica_result with_status(std::string agent, std::string principal, result_status s) {
  replica_result r;
  r.agent_id = std::move(agent);
  r.principal = std::move(principal);
  r.status = s;
  return r;
}

validation_policy exact(std::uint32_t quorum = 2, std::uint32_t max_replicas = 6) {
  return {quorum, max_replicas, protocol::validation_mode::exact, 0, 0};
}

validation_policy tolerance(std::uint32_t quorum = 2, double rtol = 1e-4, double atol = 1e-6) {
  return {quorum, 6, protocol::validation_mode::tolerance, rtol, atol};
}

constexpr float nan = std::numeric_limits<float>::quiet_NaN();
constexpr float inf = std::numeric_limits<float>::infinity();

TEST_CASE("no results yet: issue quorum replicas") {
  const auto o = validate_unit({}, 0, exact(3));
  CHECK(o.verdict == unit_verdict::pending);
  CHECK(o.more_replicas == 3);
  CHECK(validate_unit({}, 3, exact(3)).more_replicas == 0);  // all in flight: wait
}

TEST_CASE("exact: two principals with the same digest validate, the representative is canonical") {
  std::vector<replica_result> rs{ok("a1", "alice", {1, 2}), ok("b1", "bob", {1, 2})};
  const auto o = validate_unit(rs, 0, exact());
  REQUIRE(o.verdict == unit_verdict::validated);
  CHECK(o.canonical == 0);
  CHECK(o.agreeing == std::vector<std::size_t>{0, 1});
  CHECK(o.agreeing_agents == std::vector<std::string>{"a1", "b1"});
  CHECK(o.disagreeing.empty());
}

TEST_CASE("three keys of one principal cannot form a quorum") {
  std::vector<replica_result> rs{ok("k1", "mallory", {1}), ok("k2", "mallory", {1}), ok("k3", "mallory", {1})};
  auto o = validate_unit(rs, 0, exact());
  CHECK(o.verdict == unit_verdict::pending);
  CHECK(o.more_replicas == 1);  // one more principal could complete it
  CHECK(o.principals_seen == std::vector<std::string>{"mallory"});
  rs.push_back(ok("b1", "bob", {1}));
  o = validate_unit(rs, 0, exact());
  REQUIRE(o.verdict == unit_verdict::validated);
  CHECK(o.agreeing.size() == 4);
}

TEST_CASE("exact: disagreement adds one replica at a time until a strict majority of principals agrees") {
  std::vector<replica_result> rs{ok("a1", "alice", {1}), ok("m1", "mallory", {9})};
  auto o = validate_unit(rs, 0, exact());
  CHECK(o.verdict == unit_verdict::pending);
  CHECK(o.more_replicas == 1);
  CHECK(validate_unit(rs, 1, exact()).more_replicas == 0);  // the extra replica is already out
  rs.push_back(ok("b1", "bob", {1}));
  o = validate_unit(rs, 0, exact());
  REQUIRE(o.verdict == unit_verdict::validated);
  CHECK(o.canonical == 0);
  CHECK(o.agreeing == std::vector<std::size_t>{0, 2});
  CHECK(o.disagreeing == std::vector<std::size_t>{1});
  CHECK(o.disagreeing_agents == std::vector<std::string>{"m1"});
}

TEST_CASE("a quorum without a strict majority of principals is not enough") {
  // 2 vs 2 principals: each group has the quorum of 2, neither a majority.
  std::vector<replica_result> rs{ok("a1", "alice", {1}), ok("b1", "bob", {1}), ok("m1", "mallory", {9}),
                                 ok("e1", "eve", {9})};
  auto o = validate_unit(rs, 0, exact());
  CHECK(o.verdict == unit_verdict::pending);
  CHECK(o.more_replicas == 1);
  rs.push_back(ok("c1", "carol", {1}));
  o = validate_unit(rs, 0, exact());
  REQUIRE(o.verdict == unit_verdict::validated);
  CHECK(o.disagreeing_agents == std::vector<std::string>{"m1", "e1"});
}

TEST_CASE("a principal whose keys disagree with each other vouches for neither group") {
  std::vector<replica_result> rs{ok("m1", "mallory", {1}), ok("m2", "mallory", {9}), ok("a1", "alice", {1})};
  CHECK(validate_unit(rs, 0, exact()).verdict == unit_verdict::pending);
  rs.push_back(ok("b1", "bob", {1}));
  const auto o = validate_unit(rs, 0, exact());
  REQUIRE(o.verdict == unit_verdict::validated);
  CHECK(o.disagreeing_agents == std::vector<std::string>{"m2"});
}

TEST_CASE("non-OK results never count toward a quorum, and more replicas replace them") {
  std::vector<replica_result> rs{ok("a1", "alice", {1}), with_status("b1", "bob", result_status::kernel_error)};
  auto o = validate_unit(rs, 0, exact());
  CHECK(o.verdict == unit_verdict::pending);
  CHECK(o.more_replicas == 1);
  CHECK(o.not_ok == std::vector<std::size_t>{1});
  // Timeouts with an empty output digest do not agree with each other either.
  std::vector<replica_result> timeouts{with_status("a1", "alice", result_status::timeout),
                                       with_status("b1", "bob", result_status::timeout)};
  o = validate_unit(timeouts, 0, exact());
  CHECK(o.verdict == unit_verdict::pending);
  CHECK(o.more_replicas == 2);
}

TEST_CASE("disagreement fails the unit at the retry limit, once nothing is in flight") {
  std::vector<replica_result> rs{ok("a1", "alice", {1}), ok("b1", "bob", {2}), ok("c1", "carol", {3})};
  auto o = validate_unit(rs, 1, exact(2, 4));
  CHECK(o.verdict == unit_verdict::pending);  // the fourth is still out
  CHECK(o.more_replicas == 0);
  rs.push_back(ok("d1", "dave", {4}));
  o = validate_unit(rs, 0, exact(2, 4));
  REQUIRE(o.verdict == unit_verdict::failed);
  CHECK(o.disagreeing == std::vector<std::size_t>{0, 1, 2, 3});
  CHECK(o.reason.find("limit 4") != std::string::npos);
  // Below the limit a third disagreeing result asks for more, as many as could still win.
  rs.pop_back();
  o = validate_unit(rs, 0, exact(2, 6));
  CHECK(o.more_replicas == 2);  // best group 1 of 3: two more agreeing principals make 3 of 5
}

TEST_CASE("tolerance: results within rtol/atol agree, outside do not") {
  std::vector<replica_result> rs{ok("a1", "alice", {1.0f, 100.0f}), ok("b1", "bob", {1.00005f, 100.005f})};
  auto o = validate_unit(rs, 0, tolerance());
  REQUIRE(o.verdict == unit_verdict::validated);
  CHECK(o.agreeing.size() == 2);
  std::vector<replica_result> far{ok("a1", "alice", {1.0f, 100.0f}), ok("b1", "bob", {1.0f, 100.1f})};
  CHECK(validate_unit(far, 0, tolerance()).verdict == unit_verdict::pending);
  // The same floats in exact mode disagree unless bit-identical.
  CHECK(validate_unit(rs, 0, exact()).verdict == unit_verdict::pending);
}

TEST_CASE("tolerance: NaN matches only NaN, infinities match exactly, -0 equals +0") {
  auto agree = [](std::vector<float> a, std::vector<float> b) {
    std::vector<replica_result> rs{ok("a1", "alice", std::move(a)), ok("b1", "bob", std::move(b))};
    return validate_unit(rs, 0, tolerance()).verdict == unit_verdict::validated;
  };
  CHECK(agree({nan, 1}, {nan, 1}));
  CHECK_FALSE(agree({nan, 1}, {0, 1}));
  CHECK_FALSE(agree({1, 1}, {nan, 1}));
  CHECK(agree({inf, -inf}, {inf, -inf}));
  CHECK_FALSE(agree({inf}, {3.4e38f}));
  CHECK_FALSE(agree({inf}, {-inf}));
  CHECK(agree({-0.0f}, {0.0f}));
}

TEST_CASE("tolerance: members must agree with the group's representative, not just with each other") {
  // b is within tolerance of a and of c, but a and c are not within tolerance of each other.
  const float a = 1.0f, b = 1.00009f, c = 1.00018f;
  std::vector<replica_result> rs{ok("a1", "alice", {a}), ok("c1", "carol", {c}), ok("b1", "bob", {b})};
  const auto groups = group_results(rs, tolerance(2, 1e-4, 0));
  REQUIRE(groups.size() == 2);
  CHECK(groups[0].members == std::vector<std::size_t>{0, 2});  // b joins a (the first representative it matches)
  CHECK(groups[1].members == std::vector<std::size_t>{1});
  const auto o = validate_unit(rs, 0, tolerance(2, 1e-4, 0));
  REQUIRE(o.verdict == unit_verdict::validated);
  CHECK(o.canonical == 0);
  CHECK(o.disagreeing_agents == std::vector<std::string>{"c1"});
}

TEST_CASE("tolerance: a different output count or shape never agrees") {
  auto a = ok("a1", "alice", {1, 2});
  auto b = ok("b1", "bob", {1, 2, 3});
  CHECK_FALSE(results_agree(a, b, tolerance()));
  b = ok("b1", "bob", {1, 2});
  b.outputs.push_back(f32({1}));
  b.output_digest.clear();
  CHECK_FALSE(results_agree(a, b, tolerance()));
}

TEST_CASE("quorum 1 (a trusted agent's unreplicated unit) validates one OK result") {
  std::vector<replica_result> rs{ok("a1", "alice", {1})};
  CHECK(validate_unit(rs, 0, exact(1)).verdict == unit_verdict::validated);
}

}  // namespace
}  // namespace ec::aggregator
