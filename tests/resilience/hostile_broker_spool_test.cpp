// Resilience (issue 7 item 5), the durability half of the hostile broker: an agent holding a signed result that
// the aggregator has not receipted goes through hostile-broker cases (PUBACKs, valid and malformed, for its own
// QoS 1 publishes) and a SIGKILL, and afterwards delivers that result once, from its spool. A PUBACK is not a
// receipt; a crash (Paho's or ours) costs the connection, never the spooled result.
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "fake_mqtt_broker.hpp"
#include "hostile_cases.hpp"
#include "integration_support.hpp"

namespace ec::test {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t every_nth_puback_case = 6;  // ~16 of the 99 v5 PUBACK cases that follow a publish
constexpr auto reconnect_timeout = 20s;

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

long pending_batches_of_stopped(agent_process& agent) {
  const auto cli = agent.run_cli({"status", "--config", agent.config_path().string()});
  INFO("edge-agent status:\n" << cli.second);
  REQUIRE(cli.first == 0);
  return spool_pending_batches(cli.second);
}

// The v5 cases that answer the client's QoS 1 publish with a PUBACK, every n-th.
std::vector<hostile_case> puback_cases(std::size_t every_nth) {
  std::vector<hostile_case> out;
  std::size_t i = 0;
  for (auto& c : load_hostile_cases(std::filesystem::path(EC_TEST_DATA_DIR) / "mqtt-hostile-broker", 5)) {
    if (c.command != "publish-1") continue;
    if (i++ % every_nth == 0) out.push_back(std::move(c));
  }
  return out;
}

TEST_CASE("an unreceipted result survives hostile PUBACKs and a SIGKILL and is delivered once afterwards") {
  region_fixture f(1, {{"spool.republish_initial_s", "1"}, {"spool.republish_max_s", "2"}});
  INFO(f.diagnostics());
  auto& agg = f.aggregator;
  f.start_agent();
  agg.set_withhold_receipts(true);
  agg.queue_tasks(f.id(), {small_task("hostile-spooled")});
  REQUIRE(agg.wait_result_for("hostile-spooled", result_timeout));
  REQUIRE(f.agent().terminate() == 0);
  REQUIRE(pending_batches_of_stopped(f.agent()) == 1);

  // The same agent against the fake broker: on every connect it republishes the spooled result (QoS 1).
  fake_mqtt_broker hostile;
  f.agent().set("broker.url", quoted(hostile.url()));
  f.agent().set("broker.reconnect_min_ms", "10");
  f.agent().set("broker.reconnect_max_ms", "100");
  f.agent().start();
  const auto cases = puback_cases(every_nth_puback_case);
  REQUIRE(!cases.empty());
  std::size_t played = 0;
  for (const auto& c : cases) {
    auto conn = hostile.accept(reconnect_timeout, [&] { return f.agent().running(); });
    REQUIRE_MESSAGE(conn.has_value(), "no connection before " << c.id() << "\n" << f.agent().log_text());
    broker_script s = c.script;
    s.trigger = script_trigger::qos1_publish;
    CHECK_MESSAGE(conn->play(s).triggered, c.id());
    ++played;
    if (played == cases.size() / 2) {
      // The crash path: whatever kills the agent mid-session, the spool is on disk.
      f.agent().kill();
      f.agent().start();
    }
  }
  REQUIRE(played == cases.size());
  CHECK(f.agent().terminate() == 0);
  CHECK(pending_batches_of_stopped(f.agent()) == 1);

  // Back to the real region with receipts on: the spooled result is delivered, receipted and released, once.
  f.agent().set("broker.url", quoted(f.broker.url()));
  agg.set_withhold_receipts(false);
  f.start_agent();
  CHECK(wait_spool_empty(f.agent(), 30s));
  CHECK(distinct_result_blobs(agg, "hostile-spooled") == 1);
  CHECK(agg.counters().results_accepted == 1);
  CHECK(f.agent().terminate() == 0);
}

}  // namespace
}  // namespace ec::test
