// The owner policy in a real edge-agent process with a fake sysfs root: a battery drop stops the agent pulling
// and running new work, its hello says paused and why; mains brings it back after the (short) hysteresis; and the
// owner's pause combines with the aggregator's Control pause.
#include <doctest/doctest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

#include "integration_support.hpp"

using namespace ec::test;
namespace protocol = ec::protocol;

namespace {

// A temporary sysfs root with a battery and a mains supply, removed at the end of the test.
struct fake_power_root {
  std::filesystem::path path;
  fake_power_root() {
    char pattern[] = "/tmp/ec-policy-sysfs-XXXXXX";
    const char* made = ::mkdtemp(pattern);
    REQUIRE(made != nullptr);
    path = made;
  }
  ~fake_power_root() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  fake_power_root(const fake_power_root&) = delete;
  fake_power_root& operator=(const fake_power_root&) = delete;

  void write(const std::string& relative, const std::string& value) const {
    const auto file = path / relative;
    std::filesystem::create_directories(file.parent_path());
    {
      std::ofstream out(file.string() + ".tmp", std::ios::trunc);
      out << value << "\n";
    }
    std::filesystem::rename(file.string() + ".tmp", file);  // the agent reads the old or the new value
  }
  void power(bool on_mains, int charge) const {
    write("sys/class/power_supply/AC/type", "Mains");
    write("sys/class/power_supply/AC/online", on_mains ? "1" : "0");
    write("sys/class/power_supply/BAT0/type", "Battery");
    write("sys/class/power_supply/BAT0/status", on_mains ? "Charging" : "Discharging");
    write("sys/class/power_supply/BAT0/capacity", std::to_string(charge));
  }
};

constexpr int hysteresis_s = 2;

std::map<std::string, std::string> policy_settings(const fake_power_root& root) {
  return {{"policy.enabled", "true"},
          {"policy.sysfs_root", "\"" + root.path.string() + "\""},
          {"policy.hysteresis_s", std::to_string(hysteresis_s)}};
}

// Polls the aggregator's record of the agent's last online hello until pred holds (bounded).
bool wait_hello_where(region_fixture& f, const std::function<bool(const agent_record&)>& pred,
                      std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (const auto a = f.aggregator.agent(f.id()); a && a->online && pred(*a)) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling state another thread records
  }
}

// Polls `edge-agent status` until its text contains `part` (bounded).
bool wait_status_contains(agent_process& agent, const std::string& part, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto [rc, text] = agent.run_cli({"status", "--config", agent.config_path().string()});
    if (rc == 0 && text.find(part) != std::string::npos) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // polling another process's status file
  }
}

bool is_paused_by(const agent_record& a, const std::string& reason) {
  return a.state == protocol::agent_state::pause && a.paused_reason == reason;
}

}  // namespace

TEST_CASE("owner policy: a battery drop pauses the agent with its reason and mains resumes it after the hysteresis") {
  fake_power_root root;
  root.power(true, 80);
  region_fixture f(1, policy_settings(root));
  INFO(f.diagnostics());
  f.start_agent();
  REQUIRE(f.aggregator.agent(f.id())->state == protocol::agent_state::run);
  REQUIRE(agent_still_works(f, "policy-before"));

  root.power(false, 20);
  const std::string reason = "owner: on battery at 20.0% (below 30%)";
  REQUIRE_MESSAGE(wait_hello_where(
                      f, [&](const agent_record& a) { return is_paused_by(a, reason); }, 15s),
                  "no paused hello; last reason: " << f.aggregator.agent(f.id())->paused_reason);
  CHECK(wait_status_contains(f.agent(), "paused_reason " + reason + "\n", 10s));
  CHECK(wait_status_contains(f.agent(), "state pause\n", 10s));

  // Paused: a task queued now is not run (the WorkRequest the aggregator held may still deliver it; the
  // executor keeps it queued and the agent asks for nothing more).
  const auto requests_before = f.aggregator.work_requests().size();
  f.aggregator.queue_tasks(f.id(), {small_task("policy-during")});
  CHECK_FALSE(f.aggregator.wait_result_for("policy-during", 4s));
  CHECK(f.aggregator.work_requests().size() == requests_before);

  // Mains again: work resumes only after the condition has been clear for the hysteresis period.
  const auto restored = std::chrono::steady_clock::now();
  root.power(true, 21);
  REQUIRE(wait_hello_where(
      f, [](const agent_record& a) { return a.state == protocol::agent_state::run && a.paused_reason.empty(); }, 20s));
  CHECK(std::chrono::steady_clock::now() - restored >= std::chrono::seconds(hysteresis_s));
  CHECK(f.aggregator.wait_result_for("policy-during", result_timeout));
  CHECK(wait_status_contains(f.agent(), "paused_reason none\n", 10s));
  CHECK(agent_still_works(f, "policy-after"));
}

TEST_CASE("owner policy: the owner's pause and the aggregator's Control pause combine, each named in the hello") {
  fake_power_root root;
  root.power(true, 80);
  region_fixture f(1, policy_settings(root));
  INFO(f.diagnostics());
  f.start_agent();

  f.aggregator.send_control(f.id(), 1, protocol::agent_state::pause);
  REQUIRE(wait_hello_where(
      f, [](const agent_record& a) { return is_paused_by(a, "aggregator control"); }, 15s));
  root.power(false, 10);
  REQUIRE(wait_hello_where(
      f,
      [](const agent_record& a) {
        return is_paused_by(a, "aggregator control; owner: on battery at 10.0% (below 30%)");
      },
      15s));
  // The Control says run; the owner still says pause: the agent stays paused and says why.
  f.aggregator.send_control(f.id(), 2, protocol::agent_state::run);
  REQUIRE(wait_hello_where(
      f, [](const agent_record& a) { return is_paused_by(a, "owner: on battery at 10.0% (below 30%)"); }, 15s));
  f.aggregator.queue_tasks(f.id(), {small_task("policy-combined")});
  CHECK_FALSE(f.aggregator.wait_result_for("policy-combined", 3s));
  // Mains: nothing holds the pause any more.
  root.power(true, 11);
  REQUIRE(wait_hello_where(
      f, [](const agent_record& a) { return a.state == protocol::agent_state::run; }, 20s));
  CHECK(f.aggregator.wait_result_for("policy-combined", result_timeout));
}

namespace {

// Runs a fake RAPL package counter at `watts` (updated every millisecond) until destroyed; `written_uj` is the
// counter's last value, i.e. the energy "consumed" since it started.
struct running_rapl {
  const fake_power_root& root;
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> written_uj{0};
  std::thread writer;
  running_rapl(const fake_power_root& r, double watts) : root(r) {
    root.write("sys/class/powercap/intel-rapl:0/max_energy_range_uj", "262143328850");
    root.write("sys/class/powercap/intel-rapl:0/energy_uj", "0");
    writer = std::thread([this, watts] {
      const auto start = std::chrono::steady_clock::now();
      while (!stop) {
        const auto us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
        const auto uj = static_cast<std::uint64_t>(us * watts);
        root.write("sys/class/powercap/intel-rapl:0/energy_uj", std::to_string(uj));
        written_uj = uj;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));  // the counter's update period, not a sync
      }
    });
  }
  ~running_rapl() {
    stop = true;
    writer.join();
  }
};

}  // namespace

TEST_CASE("energy: results carry the joules the package counter measured while they ran, and none without one") {
  {
    fake_power_root bare;  // no sensor at all: the energy is unknown, never invented
    region_fixture f(1, {{"policy.sysfs_root", "\"" + bare.path.string() + "\""}});
    f.start_agent();
    REQUIRE(agent_still_works(f, "energy-unknown"));
    const auto r = f.aggregator.results_for("energy-unknown");
    REQUIRE(r.size() == 1);
    CHECK_FALSE(r[0].result.energy_uj.has_value());
  }
  fake_power_root root;
  running_rapl rapl(root, 15.0);
  region_fixture f(1, {{"policy.sysfs_root", "\"" + root.path.string() + "\""}});
  INFO(f.diagnostics());
  f.start_agent();
  std::uint64_t sum = 0;
  for (int i = 0; i < 4; ++i) {
    const auto id = "energy-" + std::to_string(i);
    REQUIRE(agent_still_works(f, id));
    const auto r = f.aggregator.results_for(id);
    REQUIRE(r.size() == 1);
    REQUIRE(r[0].accepted);  // the field is inside the signed Result
    REQUIRE(r[0].result.energy_uj.has_value());
    CHECK(*r[0].result.energy_uj <= rapl.written_uj.load());  // a share of what the counter measured, no more
    sum += *r[0].result.energy_uj;
  }
  CHECK(sum > 0);
}
