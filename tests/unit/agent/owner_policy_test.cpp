// The owner policy as a whole: fake sysfs files, host-fed signals and an injected clock drive it through pause
// and resume, with hysteresis, and every reason says what holds the pause.
#include "ec/agent/owner_policy.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "fake_sysfs.hpp"

using namespace ec::agent;
using ec::agent::policy_test::fake_sysfs;

namespace {

constexpr std::uint64_t second = 1000;

struct policy_under_test {
  fake_sysfs fs;
  std::shared_ptr<host_signals> host = std::make_shared<host_signals>();
  week_minute clock{0, 12 * 60};  // Monday noon unless a test moves it
  policy_config config;

  policy_under_test() {
    config.sysfs_root = fs.root().string();
    config.hysteresis_s = 5;
  }
  owner_policy make() {
    auto p = owner_policy::create({config, host, [this](std::uint64_t) { return clock; }});
    REQUIRE_MESSAGE(p.ok(), (p.ok() ? std::string() : p.err().message));
    return std::move(*p);
  }
};

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("owner policy pauses at once when the battery drops below its threshold and says why") {
  policy_under_test t;
  t.fs.power(false, 80);
  auto p = t.make();
  CHECK_FALSE(p.evaluate(0, {}).paused);
  t.fs.power(false, 25);
  const auto v = p.evaluate(1 * second, {});
  CHECK(v.paused);
  CHECK_MESSAGE(contains(v.reason, "on battery at 25.0% (below 30%)"), v.reason);
}

TEST_CASE("owner policy does not pause on a low battery while on mains") {
  policy_under_test t;
  t.fs.power(true, 5);
  auto p = t.make();
  CHECK_FALSE(p.evaluate(0, {}).paused);
}

TEST_CASE("owner policy stays paused while the charge flaps around the threshold and resumes after the hysteresis") {
  policy_under_test t;
  t.fs.power(false, 29);
  auto p = t.make();
  std::uint64_t now = 0;
  int changes = 0;
  bool last = false;
  for (int i = 0; i <= 20; ++i, now += second) {  // 29 %, 31 %, ..., 29 %: one pause, no resume
    t.fs.power(false, i % 2 == 0 ? 29 : 31);
    const bool paused = p.evaluate(now, {}).paused;
    changes += paused != last ? 1 : 0;
    last = paused;
  }
  CHECK(changes == 1);
  CHECK(last);
  t.fs.power(true, 31);  // mains from here: clear; 5 s of clear readings resume work
  const auto clear_from = now;
  for (; now < clear_from + 5 * second; now += second) {
    CHECK(p.evaluate(now, {}).paused);
    CHECK(p.resuming_after_s(now) == (clear_from + 5 * second - now) / second);
  }
  const auto v = p.evaluate(now, {});
  CHECK_FALSE(v.paused);
  CHECK(v.reason.empty());
}

TEST_CASE("owner policy can pause on battery at any charge") {
  policy_under_test t;
  t.config.pause_on_battery = true;
  t.fs.power(false, 100);
  auto p = t.make();
  const auto v = p.evaluate(0, {});
  CHECK(v.paused);
  CHECK(v.reason == "on battery");
}

TEST_CASE("owner policy pauses above the temperature limit in any thermal zone") {
  policy_under_test t;
  t.fs.thermal(0, 50);
  t.fs.thermal(1, 79.9, "soc");
  auto p = t.make();
  CHECK_FALSE(p.evaluate(0, {}).paused);
  t.fs.thermal(1, 85, "soc");
  const auto v = p.evaluate(second, {});
  CHECK(v.paused);
  CHECK_MESSAGE(contains(v.reason, "temperature 85.0 C in soc (above 80 C)"), v.reason);
}

TEST_CASE("owner policy takes host-fed power, temperature and metered network over sysfs") {
  policy_under_test t;
  t.fs.power(true, 90);  // sysfs says mains; the host says battery at 10 %
  auto p = t.make();
  CHECK_FALSE(p.evaluate(0, {}).paused);
  t.host->set_power(true, 10.0);
  auto v = p.evaluate(second, {});
  CHECK(v.paused);
  CHECK_MESSAGE(contains(v.reason, "on battery at 10.0%"), v.reason);
  t.host->set_power(false, 10.0);
  t.host->set_temperature(91);
  t.host->set_metered(true);
  v = p.evaluate(2 * second, {});
  CHECK(v.paused);
  CHECK_MESSAGE(contains(v.reason, "temperature 91.0 C in host"), v.reason);
  CHECK_MESSAGE(contains(v.reason, "metered network"), v.reason);
  CHECK(p.readings().metered_network == true);
  t.host->set_temperature(40);
  t.host->set_metered(false);
  for (std::uint64_t now = 3 * second; now < 12 * second; now += second) v = p.evaluate(now, {});
  CHECK_FALSE(v.paused);  // the battery latch (clear since 2 s) and the others (since 3 s) have all released
}

TEST_CASE("owner policy ignores a metered network when told to") {
  policy_under_test t;
  t.config.pause_on_metered = false;
  t.host->set_metered(true);
  auto p = t.make();
  CHECK_FALSE(p.evaluate(0, {}).paused);
}

TEST_CASE("owner policy follows run and pause windows at their exact times, without hysteresis") {
  policy_under_test t;
  t.config.run_windows = {"Mon-Fri 22:00-07:00"};
  t.config.pause_windows = {"Tue 01:00-02:00"};
  auto p = t.make();
  t.clock = {0, 12 * 60};  // Monday noon
  auto v = p.evaluate(0, {});
  CHECK(v.paused);
  CHECK(v.reason == "outside the run windows");
  t.clock = {0, 22 * 60};  // Monday 22:00: inside, and resumed at once
  CHECK_FALSE(p.evaluate(second, {}).paused);
  t.clock = {1, 60 + 30};  // Tuesday 01:30
  v = p.evaluate(2 * second, {});
  CHECK(v.paused);
  CHECK(v.reason == "inside pause window 'Tue 01:00-02:00'");
  t.clock = {1, 2 * 60};
  CHECK_FALSE(p.evaluate(3 * second, {}).paused);
}

TEST_CASE("owner policy refuses a malformed window when it is created") {
  policy_config c;
  c.run_windows = {"weekdays 9-5"};
  const auto p = owner_policy::create({c, nullptr, {}});
  REQUIRE_FALSE(p.ok());
  CHECK_MESSAGE(contains(p.err().message, "policy.run_windows"), p.err().message);
}

TEST_CASE("owner policy counts CPU load from other work, not from the agent's own running tasks") {
  policy_under_test t;
  t.config.max_cpu_load_percent = 50;
  t.fs.write("sys/devices/system/cpu/online", "0-3");
  t.fs.write("proc/loadavg", "3.60 1.00 1.00 1/100 1");
  auto p = t.make();
  // 3.6 on 4 CPUs, of which the agent's one task with 2 threads: others 1.6 = 40 %.
  CHECK_FALSE(p.evaluate(0, {1, 2}).paused);
  const auto v = p.evaluate(second, {0, 2});  // nothing of ours runs: 90 % is others' work
  CHECK(v.paused);
  CHECK_MESSAGE(contains(v.reason, "CPU busy with other work: load 3.6 on 4 CPUs (above 50%)"), v.reason);
}

TEST_CASE("owner policy judges GPU utilisation only while the agent runs nothing") {
  policy_under_test t;
  t.config.max_gpu_busy_percent = 30;
  t.fs.write("sys/class/drm/card0/device/gpu_busy_percent", "95");
  auto p = t.make();
  CHECK_FALSE(p.evaluate(0, {1, 1}).paused);  // 95 % could be our own kernel
  auto v = p.evaluate(second, {0, 1});
  CHECK(v.paused);
  CHECK_MESSAGE(contains(v.reason, "GPU busy with other work: 95.0%"), v.reason);
}

TEST_CASE("owner policy lists every condition that holds the pause") {
  policy_under_test t;
  t.fs.power(false, 10);
  t.fs.thermal(0, 90);
  auto p = t.make();
  const auto v = p.evaluate(0, {});
  CHECK(v.reason == "on battery at 10.0% (below 30%); temperature 90.0 C in cpu-thermal (above 80 C)");
}

TEST_CASE("owner policy that is disabled never pauses") {
  policy_under_test t;
  t.config.enabled = false;
  t.fs.power(false, 1);
  t.fs.thermal(0, 120);
  t.host->set_metered(true);
  auto p = t.make();
  CHECK_FALSE(p.evaluate(0, {}).paused);
}

TEST_CASE("owner policy never pauses on readings it does not have") {
  policy_under_test t;  // an empty sysfs root and no host signals: a desktop in a container
  auto p = t.make();
  const auto v = p.evaluate(0, {});
  CHECK_FALSE(v.paused);
  CHECK_FALSE(p.readings().on_battery.has_value());
  CHECK_FALSE(p.readings().temperature_c.has_value());
}
