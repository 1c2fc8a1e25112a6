// The replay guard (protocol.md check 7, Task): first seen exactly once, across restarts, bounded in memory.
#include "ec/agent/replay_guard.hpp"

#include "durability_support.hpp"
#include "ec/agent/result_spool.hpp"

namespace ec::agent {
namespace {

using namespace ec::agent::test;

TEST_CASE("replay guard: first_seen is true exactly once per (task_id, attempt)") {
  replay_guard guard;
  CHECK(guard.first_seen("t", 1, 10'000));
  CHECK_FALSE(guard.first_seen("t", 1, 10'000));
  CHECK_FALSE(guard.first_seen("t", 1, 99'000));  // a replay with another expiry is still a replay
  CHECK(guard.first_seen("t", 2, 10'000));        // a new attempt is a new task
  CHECK(guard.first_seen("u", 1, 10'000));
  CHECK(guard.size() == 3);
}

TEST_CASE("replay guard survives a restart through the journal's admissions") {
  temp_dir dir;
  {
    auto j = open_journal(dir.path);
    auto spool = result_spool::open(*j, {});
    REQUIRE(spool.ok());
    replay_guard guard;
    guard.restore(*j);
    REQUIRE(guard.first_seen("admitted", 1, 50'000));
    REQUIRE((*spool)->reserve({make_task("admitted", 1, 50'000)}).ok());
    REQUIRE(guard.first_seen("seen-not-admitted", 1, 50'000));  // the agent crashed before admitting it
  }
  auto j = open_journal(dir.path);
  replay_guard guard;
  guard.restore(*j);
  CHECK(guard.size() == 1);
  CHECK_FALSE(guard.first_seen("admitted", 1, 50'000));
  CHECK(guard.first_seen("seen-not-admitted", 1, 50'000));  // never admitted: running it now is right
  CHECK(guard.first_seen("admitted", 2, 50'000));
}

TEST_CASE("replay guard forgets entries after expiry plus margin, and counts older tasks as seen") {
  replay_guard guard(1'000);
  REQUIRE(guard.first_seen("early", 1, 10'000));
  REQUIRE(guard.first_seen("late", 1, 20'000));
  CHECK(guard.forget_expired(10'500) == 0);  // expired, but within the margin
  CHECK(guard.size() == 2);
  CHECK(guard.forget_expired(11'001) == 1);
  CHECK(guard.size() == 1);
  CHECK(guard.horizon_ms() == 10'001);
  CHECK_FALSE(guard.first_seen("early", 1, 10'000));  // forgotten, but older than the horizon: still a replay
  CHECK_FALSE(guard.first_seen("late", 1, 20'000));
  CHECK(guard.first_seen("new", 1, 30'000));
  CHECK(guard.forget_expired(1'000'000) == 2);
  CHECK(guard.size() == 0);
}

TEST_CASE("replay guard memory stays bounded under a stream of tasks") {
  replay_guard guard(0);
  std::uint64_t now = 0;
  for (int i = 0; i < 10'000; ++i) {
    now += 10;
    REQUIRE(guard.first_seen("task" + std::to_string(i), 1, now + 1'000));
    if (i % 100 == 0) guard.forget_expired(now);
  }
  CHECK(guard.size() <= 201);
}

TEST_CASE("replay guard after compaction: forgotten tasks stay replays across a restart") {
  temp_dir dir;
  journal_config config;
  config.forget_margin_ms = 1'000;
  {
    auto j = open_journal(dir.path, config);
    auto spool = result_spool::open(*j, {});
    REQUIRE(spool.ok());
    REQUIRE((*spool)->reserve({make_task("old", 1, 5'000), make_task("current", 1, 500'000)}).ok());
    auto batch = (*spool)->spool(bytes_of("envelope"), {{"old", 1, digest_of("r")}}, 4'000);
    REQUIRE(batch.ok());
    REQUIRE(j->compact(100'000).ok());  // "old" is finished and expired: dropped from the file
  }
  auto j = open_journal(dir.path, config);
  replay_guard guard(1'000);
  guard.restore(*j);
  CHECK(guard.size() == 1);
  CHECK(guard.horizon_ms() == 99'000);
  CHECK_FALSE(guard.first_seen("old", 1, 5'000));
  CHECK_FALSE(guard.first_seen("current", 1, 500'000));
}

}  // namespace
}  // namespace ec::agent
