// Leases: the queue allowance follows the agent's observed throughput (an EWMA), expiry gives attempt + 1,
// Rejected/Expired/Unsupported free a task at once, and a late result counts while its unit is not validated.
#include "ec/aggregator/lease_policy.hpp"

#include <doctest/doctest.h>

#include <limits>

namespace ec::aggregator {
namespace {

using protocol::result_status;

TEST_CASE("an agent never observed gets the initial seconds per task") {
  throughput_tracker t;
  CHECK(t.get("a1").seconds_per_task == 10.0);
  CHECK(t.get("a1").samples == 0);
  const lease_config c;
  CHECK(queue_allowance_ms(c, t.get("a1"), 4) == 40'000);
  CHECK(lease_duration_ms(c, t.get("a1"), 4, 5'000) == 40'000 + 5'000 + 30'000);
}

TEST_CASE("the allowance follows the EWMA of observed seconds per task") {
  lease_config c;
  c.ewma_alpha = 0.5;
  throughput_tracker t(c);
  t.observe("a1", 2.0);
  CHECK(t.get("a1").seconds_per_task == 2.0);  // the first sample is taken as is
  t.observe("a1", 4.0);
  CHECK(t.get("a1").seconds_per_task == 3.0);
  t.observe_batch("a1", 10'000, 10);  // 1 s per task
  CHECK(t.get("a1").seconds_per_task == 2.0);
  CHECK(t.get("a1").samples == 3);
  CHECK(queue_allowance_ms(c, t.get("a1"), 8) == 16'000);
  CHECK(lease_duration_ms(c, t.get("a1"), 8, 1'000) == 16'000 + 1'000 + 30'000);
  CHECK(queue_allowance_ms(c, t.get("a1"), 0) == 0);  // nothing queued ahead
  // A faster agent gets a shorter lease.
  t.observe("fast", 0.1);
  CHECK(lease_duration_ms(c, t.get("fast"), 8, 1'000) < lease_duration_ms(c, t.get("a1"), 8, 1'000));
}

TEST_CASE("numbers from agents are clamped: samples and the allowance have bounds") {
  lease_config c;
  throughput_tracker t(c);
  t.observe("a1", -5.0);
  CHECK(t.get("a1").seconds_per_task == c.min_seconds_per_task);
  t.observe("a2", 1e12);
  CHECK(t.get("a2").seconds_per_task == c.max_seconds_per_task);
  t.observe("a3", std::numeric_limits<double>::quiet_NaN());
  CHECK(t.get("a3").samples == 0);
  CHECK(queue_allowance_ms(c, t.get("a2"), 1000) == c.max_queue_allowance_ms);
}

TEST_CASE("an expired lease is reassigned with attempt + 1") {
  const lease l{"job/0/r1", 2, "a1", 1'000, 61'000};
  CHECK_FALSE(expired(l, 60'999));
  CHECK(expired(l, 61'000));
  const auto n = next_attempt(l);
  CHECK(n.task_id == "job/0/r1");
  CHECK(n.attempt == 3);
  CHECK(n.agent_id.empty());
}

TEST_CASE("Rejected, Expired, Unsupported (and Cancelled) free the task at once") {
  const lease l{"t", 0, "a1", 0, 100'000};
  for (auto s :
       {result_status::rejected, result_status::expired, result_status::unsupported, result_status::cancelled}) {
    CAPTURE(protocol::to_string(s));
    CHECK(frees_task(s));
    const auto d = on_result(&l, 0, s, unit_state::pending, 10);
    CHECK(d.action == result_action::accept_and_free);
    CHECK(d.reason.empty());
  }
  for (auto s : {result_status::ok, result_status::kernel_error, result_status::timeout}) {
    CHECK_FALSE(frees_task(s));
    CHECK(on_result(&l, 0, s, unit_state::pending, 10).action == result_action::accept);
  }
}

TEST_CASE("a late valid result is accepted while the unit is not validated, superseded after") {
  const lease l{"t", 0, "a1", 0, 100};
  auto d = on_result(&l, 1, result_status::ok, unit_state::pending, 500);  // expired and reassigned as attempt 1
  CHECK(d.action == result_action::accept);
  CHECK(d.late);
  d = on_result(&l, 1, result_status::ok, unit_state::validated, 500);
  CHECK(d.action == result_action::reject);
  CHECK(d.reason == "superseded");
  CHECK(on_result(&l, 1, result_status::ok, unit_state::failed, 500).reason == "superseded");
  // A late Rejected for a task already reissued frees nothing more.
  CHECK(on_result(&l, 1, result_status::rejected, unit_state::pending, 500).action == result_action::accept);
  // On time: not late.
  CHECK_FALSE(on_result(&l, 0, result_status::ok, unit_state::pending, 50).late);
}

TEST_CASE("a result without a lease held by this agent is rejected with no_lease") {
  const auto d = on_result(nullptr, 0, result_status::ok, unit_state::pending, 0);
  CHECK(d.action == result_action::reject);
  CHECK(d.reason == "no_lease");
}

}  // namespace
}  // namespace ec::aggregator
