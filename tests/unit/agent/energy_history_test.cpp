// Per-task energy from the package's RAPL counter (fake sysfs files): a task gets the energy of its run
// interval, shared with the tasks that ran beside it; without a sensor it is unknown, never invented.
#include <doctest/doctest.h>

#include "ec/agent/energy_history.hpp"
#include "fake_sysfs.hpp"

using ec::agent::energy_history;
using ec::agent::policy_test::fake_sysfs;

namespace {

constexpr const char* counter = "sys/class/powercap/intel-rapl:0/energy_uj";

void rapl_at(const fake_sysfs& fs, std::uint64_t microjoules) { fs.write(counter, std::to_string(microjoules)); }

}  // namespace

TEST_CASE("energy history: without a sensor a task's energy is unknown") {
  fake_sysfs fs;
  energy_history h(fs.root());
  CHECK_FALSE(h.sample(1'000'000, 0).has_value());
  CHECK_FALSE(h.task_joules(1'000'000, 2'000'000, 1).has_value());
  CHECK(h.source() == "none");
}

TEST_CASE("energy history: a task alone gets the energy of its run interval, pro rata within a sample") {
  fake_sysfs fs;
  fs.write("sys/class/powercap/intel-rapl:0/max_energy_range_uj", "1000000000");
  rapl_at(fs, 0);
  energy_history h(fs.root());
  REQUIRE(h.sample(0, 0).has_value());  // starting point
  rapl_at(fs, 4'000'000);               // 4 J over the first second, while idle
  REQUIRE(h.sample(1'000'000, 0).has_value());
  rapl_at(fs, 10'000'000);  // 6 J over the next second: the task ran in its second half (3 J of it)
  const auto j = h.task_joules(1'500'000, 2'000'000, 1);
  REQUIRE(j.has_value());
  CHECK(*j == doctest::Approx(3.0));
  CHECK(*h.total_joules() == doctest::Approx(10.0));
}

TEST_CASE("energy history: tasks running side by side share the interval's energy equally") {
  fake_sysfs fs;
  fs.write("sys/class/powercap/intel-rapl:0/max_energy_range_uj", "1000000000");
  rapl_at(fs, 0);
  energy_history h(fs.root());
  REQUIRE(h.sample(0, 2).has_value());
  rapl_at(fs, 8'000'000);  // 8 J in one second with two tasks busy
  const auto first = h.task_joules(0, 1'000'000, 2);
  REQUIRE(first.has_value());
  CHECK(*first == doctest::Approx(4.0));
  // The second task ends a moment later: the same interval, still shared by two, and 0 J since.
  const auto second = h.task_joules(0, 1'000'001, 2);
  REQUIRE(second.has_value());
  CHECK(*second == doctest::Approx(4.0));
}
