// The CPU backend's pool: every index exactly once, deadlines honoured between chunks.
#include <doctest/doctest.h>

#include <atomic>
#include <vector>

#include "../../../backends/cpu/src/thread_pool.hpp"

using ec::backends::cpu::thread_pool;

TEST_CASE("parallel_for runs every index exactly once for counts around the chunk size") {
  thread_pool pool(4);
  for (std::uint64_t count : {1ull, 2ull, 31ull, 32ull, 33ull, 1000ull, 100003ull}) {
    std::vector<std::atomic<int>> hits(count);
    const bool done = pool.parallel_for(
        count, [&](std::uint64_t b, std::uint64_t e) { for (auto i = b; i < e; ++i) hits[i]++; }, [] { return true; });
    CHECK(done);
    int wrong = 0;
    for (auto& h : hits) wrong += h.load() != 1;
    CHECK_MESSAGE(wrong == 0, "count " << count);
  }
}

TEST_CASE("parallel_for skips the remaining chunks once keep_going says stop, and reports it") {
  thread_pool pool(2);
  std::atomic<std::uint64_t> ran{0};
  std::atomic<int> calls{0};
  const bool done = pool.parallel_for(
      1000, [&](std::uint64_t b, std::uint64_t e) { ran += e - b; },
      [&] { return calls.fetch_add(1) < 3; });
  CHECK_FALSE(done);
  CHECK(ran.load() < 1000);
}

TEST_CASE("a pool is reusable and a zero count runs nothing") {
  thread_pool pool(3);
  std::atomic<int> n{0};
  for (int round = 0; round < 50; ++round)
    CHECK(pool.parallel_for(97, [&](std::uint64_t b, std::uint64_t e) { n += static_cast<int>(e - b); },
                            [] { return true; }));
  CHECK(n == 50 * 97);
  CHECK(pool.parallel_for(0, [&](std::uint64_t, std::uint64_t) { n = -1; }, [] { return true; }));
  CHECK(n == 50 * 97);
}
