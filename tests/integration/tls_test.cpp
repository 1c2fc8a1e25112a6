// The agent over mqtts:// with client certificates made by openssl in the test: the broker takes the certificate's
// CN as the username, so the ACL's %u binds an agent to the certificate it holds, and no password is involved.
#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "integration_support.hpp"

using namespace ec::test;
namespace protocol = ec::protocol;
namespace fs = std::filesystem;

namespace {

// A temp folder for the PKI, removed at the end of the test.
struct temp_folder {
  temp_folder() {
    std::string templ = (fs::temp_directory_path() / "ec-pki-XXXXXX").string();
    REQUIRE(::mkdtemp(templ.data()) != nullptr);
    path = templ;
  }
  ~temp_folder() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path path;
};

// Points the agent at its certificate; the password file stays configured, and is ignored by this listener.
void use_certificate(agent_process& agent, const test_pki& pki, const std::string& cn) {
  agent.set("broker.tls.ca_file", "\"" + pki.ca_cert.string() + "\"");
  agent.set("broker.tls.cert_file", "\"" + pki.client(cn).first.string() + "\"");
  agent.set("broker.tls.key_file", "\"" + pki.client(cn).second.string() + "\"");
}

}  // namespace

TEST_CASE("mTLS: an agent with a certificate for its agent_id delivers, one holding another agent's is locked out") {
  temp_folder tmp;
  const auto pki = make_test_pki(tmp.path, {"aggregator"});
  broker_options bo;
  bo.tls = broker_tls{pki.ca_cert.string(), pki.server_cert.string(), pki.server_key.string(), true, true};
  mosquitto_broker broker(bo);

  test_aggregator_options ao;
  ao.tls.ca_file = pki.ca_cert.string();
  ao.tls.cert_file = pki.client("aggregator").first.string();
  ao.tls.key_file = pki.client("aggregator").second.string();
  test_aggregator agg(ao);

  auto make_agent = [&] {
    agent_process_options o;
    o.binary = EC_AGENT_BINARY;
    o.aggregator_key_pems = {agg.public_key_pem()};
    return std::make_unique<agent_process>(broker, std::move(o));
  };
  auto honest = make_agent();
  auto impostor = make_agent();
  issue_client_certificate(pki, honest->agent_id());
  use_certificate(*honest, pki, honest->agent_id());
  // The impostor signs with its own key but holds the honest agent's certificate: the broker calls it by the
  // honest agent's name, so its own topics are closed to it and nothing it says reaches the aggregator.
  use_certificate(*impostor, pki, honest->agent_id());

  broker.start();
  REQUIRE(broker.url().rfind("mqtts://", 0) == 0);
  agg.start(broker.url());
  honest->start();
  INFO("honest agent log:\n" << honest->log_text() << "\nbroker log:\n" << broker.log_text());
  REQUIRE(agg.wait_hello(honest->agent_id(), agent_ready_timeout));

  const auto* spec = ec::kernels::find_kernel("sha256");
  REQUIRE(spec != nullptr);
  const auto kc = make_kernel_case(*spec, "tls-sha256");
  agg.queue_tasks(honest->agent_id(), {kc.task, small_task("tls-copy")});
  REQUIRE(agg.wait_results(2, result_timeout));
  const auto accepted = agg.accepted();
  const auto it = accepted.find({"tls-sha256", 0});
  REQUIRE(it != accepted.end());
  std::string why;
  CHECK_MESSAGE(outputs_match(kc, it->second.result.outputs, why), why);
  CHECK(it->second.agent_id == honest->agent_id());
  CHECK(wait_spool_empty(*honest, std::chrono::seconds(20)));

  // The impostor connects (its certificate is valid) but the broker denies its hello and work requests: their
  // topics are named after its own agent_id, not the certificate's CN (PUBACK 0x87, logged by the agent), and
  // the aggregator never hears from it.
  CHECK(honest->terminate() == 0);
  impostor->start();
  const bool denied = [&] {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (impostor->log_text().find("broker rejected publish") != std::string::npos) return true;
      std::this_thread::sleep_for(50ms);  // polling another process's log file
    }
    return false;
  }();
  INFO("impostor log:\n" << impostor->log_text());
  CHECK_MESSAGE(denied, "the broker did not reject the impostor's publish");
  CHECK_FALSE(agg.agent(impostor->agent_id()).has_value());
  CHECK(agg.counters().results_refused == 0);
}

TEST_CASE("mTLS: an agent without a client certificate gets no session and says why") {
  temp_folder tmp;
  const auto pki = make_test_pki(tmp.path, {});
  broker_options bo;
  bo.tls = broker_tls{pki.ca_cert.string(), pki.server_cert.string(), pki.server_key.string(), true, true};
  mosquitto_broker broker(bo);
  agent_process_options o;
  o.binary = EC_AGENT_BINARY;
  o.aggregator_key_pems = {test_aggregator(test_aggregator_options{}).public_key_pem()};
  agent_process agent(broker, std::move(o));
  agent.set("broker.tls.ca_file", "\"" + pki.ca_cert.string() + "\"");
  broker.start();
  agent.start();
  // The handshake fails on every try; the agent keeps running and logs the transport error.
  const bool logged = [&] {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
      const auto log = agent.log_text();
      if (log.find("connect to ") != std::string::npos && log.find(" failed: ") != std::string::npos) return true;
      std::this_thread::sleep_for(50ms);  // polling another process's log file
    }
    return false;
  }();
  INFO("agent log:\n" << agent.log_text() << "\nbroker log:\n" << broker.log_text());
  CHECK(logged);
  CHECK(agent.running());
  CHECK(broker.log_text().find("New client connected") == std::string::npos);
}
