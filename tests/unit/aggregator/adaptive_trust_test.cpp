// Adaptive trust: 10 valid replicated results in a row make a key trusted, trusted keys are sampled 1/n with a
// fixed seed, an invalid result resets trust and returns the unreplicated units for re-issue and clawback; ringers.
#include "ec/aggregator/adaptive_trust.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>

#include "ec/kernels/catalog.hpp"

namespace ec::aggregator {
namespace {

TEST_CASE("a key is trusted after 10 consecutive valid replicated results, not before") {
  adaptive_trust t;
  for (int i = 0; i < 9; ++i) {
    t.record_valid("a1");
    CHECK_FALSE(t.is_trusted("a1"));
    CHECK(t.needs_replication("a1"));
  }
  t.record_valid("a1");
  CHECK(t.is_trusted("a1"));
  CHECK(t.state("a1").consecutive_valid == 10);
  CHECK_FALSE(t.is_trusted("other"));
}

TEST_CASE("an invalid result in the streak starts it again") {
  adaptive_trust t;
  for (int i = 0; i < 9; ++i) t.record_valid("a1");
  const auto r = t.record_invalid("a1");
  CHECK_FALSE(r.was_trusted);
  CHECK(r.lost_streak == 9);
  CHECK(r.reissue_units.empty());
  for (int i = 0; i < 9; ++i) t.record_valid("a1");
  CHECK_FALSE(t.is_trusted("a1"));
  t.record_valid("a1");
  CHECK(t.is_trusted("a1"));
}

TEST_CASE("a trusted key is replicated with probability 1/n, deterministically for a fixed seed") {
  trust_config c;
  c.replicate_one_in = 4;
  auto sample = [&](std::uint64_t seed) {
    adaptive_trust t(c, seeded_random(seed));
    for (int i = 0; i < 10; ++i) t.record_valid("a1");
    std::vector<bool> v;
    for (int i = 0; i < 4000; ++i) v.push_back(t.needs_replication("a1"));
    return v;
  };
  const auto v = sample(42);
  CHECK(v == sample(42));
  CHECK(v != sample(43));
  const auto replicated = std::count(v.begin(), v.end(), true);
  CHECK(replicated > 850);  // 1000 expected; binomial sd ~27
  CHECK(replicated < 1150);
  // An injected source decides exactly: multiples of n replicate.
  std::uint64_t next = 0;
  adaptive_trust t(c, [&] { return next++; });
  for (int i = 0; i < 10; ++i) t.record_valid("a1");
  CHECK(t.needs_replication("a1"));  // 0
  CHECK_FALSE(t.needs_replication("a1"));
  CHECK_FALSE(t.needs_replication("a1"));
  CHECK_FALSE(t.needs_replication("a1"));
  CHECK(t.needs_replication("a1"));  // 4
}

TEST_CASE("an invalid result resets a trusted key and returns its unreplicated units for clawback") {
  adaptive_trust t;
  t.record_unreplicated("a1", "before");  // not trusted yet: dropped when trust is earned
  for (int i = 0; i < 10; ++i) t.record_valid("a1");
  t.record_unreplicated("a1", "job/1");
  t.record_unreplicated("a1", "job/2");
  t.record_valid("a1");  // a sampled replicated result: still trusted, list kept
  t.record_unreplicated("a1", "job/7");
  CHECK(t.state("a1").unreplicated == std::vector<std::string>{"job/1", "job/2", "job/7"});
  const auto r = t.record_invalid("a1");
  CHECK(r.was_trusted);
  CHECK(r.lost_streak == 11);
  CHECK(r.reissue_units == std::vector<std::string>{"job/1", "job/2", "job/7"});
  CHECK_FALSE(t.is_trusted("a1"));
  CHECK(t.needs_replication("a1"));
  CHECK(t.state("a1").unreplicated.empty());
  CHECK(t.state("a1").invalid_total == 1);
  CHECK(t.record_invalid("a1").reissue_units.empty());  // nothing twice
}

TEST_CASE("trust state survives a restart through state() and restore()") {
  adaptive_trust t;
  for (int i = 0; i < 12; ++i) t.record_valid("a1");
  t.record_unreplicated("a1", "u");
  adaptive_trust again;
  again.restore("a1", t.state("a1"));
  CHECK(again.is_trusted("a1"));
  CHECK(again.state("a1") == t.state("a1"));
}

TEST_CASE("ringers are issued at the configured rate") {
  trust_config c;
  c.ringer_rate = 0.05;
  adaptive_trust t(c, seeded_random(7));
  int n = 0;
  for (int i = 0; i < 10000; ++i) n += t.next_is_ringer() ? 1 : 0;
  CHECK(n > 400);
  CHECK(n < 600);
  c.ringer_rate = 0;
  adaptive_trust none(c);
  CHECK_FALSE(none.next_is_ringer());
}

TEST_CASE("a ringer is the kernel's known answer, a wrong answer is detected in both validation modes") {
  for (const auto* spec : kernels::catalog()) {
    CAPTURE(spec->name);
    auto r = make_ringer(*spec);
    REQUIRE(r.ok());
    CHECK(r->task.kernel == spec->name);
    CHECK(r->task.outputs.size() == r->expected.size());
    CHECK(r->task.validation == spec->validation);
    CHECK(ringer_answer_correct(*r, r->expected));
    auto wrong = r->expected;
    wrong[0].data[3] ^= 0x40;  // exponent bits of a float, high bits of an integer: far outside any tolerance
    CHECK_FALSE(ringer_answer_correct(*r, wrong));
    CHECK_FALSE(ringer_answer_correct(*r, {}));
  }
  // A tolerance-mode ringer accepts an answer within tolerance.
  auto s = make_ringer(*kernels::find_kernel("sgemm"));
  REQUIRE(s.ok());
  auto close = s->expected;
  float v = 0;
  std::memcpy(&v, close[0].data.data(), 4);
  v *= 1.00001f;
  std::memcpy(close[0].data.data(), &v, 4);
  CHECK(ringer_answer_correct(*s, close));
}

TEST_CASE("a wrong ringer answer counts as invalid: the caller records it and trust is reset") {
  adaptive_trust t;
  for (int i = 0; i < 10; ++i) t.record_valid("a1");
  t.record_unreplicated("a1", "job/3");
  auto r = make_ringer(*kernels::find_kernel("mandelbrot"));
  REQUIRE(r.ok());
  auto lie = r->expected;
  lie[0].data[4] ^= 1;
  REQUIRE_FALSE(ringer_answer_correct(*r, lie));
  CHECK(t.record_invalid("a1").reissue_units == std::vector<std::string>{"job/3"});
  CHECK_FALSE(t.is_trusted("a1"));
}

}  // namespace
}  // namespace ec::aggregator
