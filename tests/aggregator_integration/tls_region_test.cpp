// A whole region over mqtts:// with client certificates: the real edge-aggregator and real agents each hold a
// certificate whose CN is their broker username (the ACL's %u), no passwords. The job must complete with quorum 2
// and match the CPU reference, as it does over plain TCP; a client without a certificate gets no session.
#include "aggregator_support.hpp"

namespace ec::test::agg {
namespace {

constexpr auto job_timeout = 180s;

// The aggregator's settings over TLS: the certificate names it "aggregator", the user the ACL gives the
// aggregators' share of topics.
void use_tls(aggregator_process& aggregator, const test_pki& pki, const std::string& url) {
  aggregator.set("broker.url", toml_string(url));
  aggregator.set("broker.tls.ca_file", toml_string(pki.ca_cert.string()));
  aggregator.set("broker.tls.cert_file", toml_string(pki.client("aggregator").first.string()));
  aggregator.set("broker.tls.key_file", toml_string(pki.client("aggregator").second.string()));
}

std::map<std::string, std::string> aggregator_settings() {
  return {
      {"broker.username", toml_string("aggregator")},
      {"broker.client_id", toml_string("aggregator-tls")},
      {"broker.reconnect_min_ms", "100"},
      {"broker.reconnect_max_ms", "1000"},
      {"region.name", toml_string("test")},
      {"storage.database", toml_string("region.db")},
      {"keys.key_file", toml_string("aggregator.key")},
      {"enrollment.mode", toml_string("token")},
      {"work.tick_ms", "100"},
      {"work.lease_grace_ms", "1000"},
      {"work.initial_seconds_per_task", "1"},
      {"work.target_batch_seconds", "2"},
      {"log.level", toml_string("debug")},
      {"trust.replicate_one_in", "1"},
      {"trust.ringer_rate", "0"},
  };
}

}  // namespace

TEST_CASE("over mTLS the real aggregator and agents complete a quorum-2 job that matches the CPU reference") {
  temp_folder folder;
  const auto pki = make_test_pki(folder.path / "pki", {"aggregator"});
  broker_options bo;
  bo.tls = broker_tls{pki.ca_cert.string(), pki.server_cert.string(), pki.server_key.string(), true, true};
  mosquitto_broker broker(bo);
  aggregator_process aggregator(folder.path / "aggregator", aggregator_settings());

  // The agents' configs carry enrollment tokens: the wrapper makes them private before the agent reads them.
  write_file(folder.path / "agent-wrapper.sh",
             "#!/bin/sh\nprev=\"\"\nfor a in \"$@\"; do [ \"$prev\" = \"--config\" ] && chmod 600 \"$a\"; "
             "prev=\"$a\"; done\nexec " EC_AGENT_BINARY " \"$@\"\n",
             0755);
  std::vector<std::unique_ptr<agent_process>> agents;
  for (int i = 0; i < 2; ++i) {
    agent_process_options o;
    o.binary = (folder.path / "agent-wrapper.sh").string();
    o.aggregator_key_pems = {aggregator.public_key_pem()};
    agents.push_back(std::make_unique<agent_process>(broker, std::move(o)));
    auto& agent = *agents.back();
    issue_client_certificate(pki, agent.agent_id());
    agent.set("broker.tls.ca_file", toml_string(pki.ca_cert.string()));
    agent.set("broker.tls.cert_file", toml_string(pki.client(agent.agent_id()).first.string()));
    agent.set("broker.tls.key_file", toml_string(pki.client(agent.agent_id()).second.string()));
  }
  broker.start();
  REQUIRE(broker.url().rfind("mqtts://", 0) == 0);
  use_tls(aggregator, pki, broker.url());

  const auto edgectl = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {EC_EDGECTL_BINARY, "--db", aggregator.database().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_program(argv, folder.path);
  };
  for (std::size_t i = 0; i < agents.size(); ++i) {
    auto r = edgectl({"enroll", "--principal", "owner-" + std::to_string(i)});
    REQUIRE_MESSAGE(r.rc == 0, r.err);
    while (!r.out.empty() && (r.out.back() == '\n' || r.out.back() == ' ')) r.out.pop_back();
    agents[i]->set("agent.enrollment_token", toml_string(r.out));
  }
  write_file(folder.path / "job.toml", mandelbrot_job(64, 48, 16, 64, false), 0644);
  auto submitted = edgectl({"submit", (folder.path / "job.toml").string()});
  REQUIRE_MESSAGE(submitted.rc == 0, submitted.err);
  auto job = submitted.out;
  while (!job.empty() && (job.back() == '\n' || job.back() == ' ')) job.pop_back();

  aggregator.start();
  for (auto& a : agents) a->start();
  auto open_db = [&] {
    aggregator::sqlite_options o;
    o.path = aggregator.database();
    o.create = false;
    auto s = aggregator::sqlite_storage::open(o);
    REQUIRE(s.ok());
    return std::move(s).value();
  };
  const bool done = poll_until(
      [&] {
        const auto c = open_db()->count_work_units(job);
        return c.ok() && c->pending + c->running + c->failed == 0 && c->validated > 0;
      },
      job_timeout);
  INFO("aggregator log:\n" << aggregator.log_text() << "\nagent 0 log:\n"
                           << agents[0]->log_text() << "\nbroker log:\n"
                           << broker.log_text());
  REQUIRE(done);
  auto db = open_db();
  const auto c = db->count_work_units(job);
  REQUIRE(c.ok());
  CHECK(c->validated == 12);  // 64x48 in 16x16 tiles, each by both principals
  check_against_reference(*db, job);
  CHECK(aggregator.terminate() == 0);
}

TEST_CASE("over mTLS an aggregator without a client certificate gets no session and says why") {
  temp_folder folder;
  const auto pki = make_test_pki(folder.path / "pki", {"aggregator"});
  broker_options bo;
  bo.tls = broker_tls{pki.ca_cert.string(), pki.server_cert.string(), pki.server_key.string(), true, true};
  mosquitto_broker broker(bo);
  broker.start();
  aggregator_process aggregator(folder.path / "aggregator", aggregator_settings());
  aggregator.set("broker.url", toml_string(broker.url()));
  aggregator.set("broker.tls.ca_file", toml_string(pki.ca_cert.string()));
  aggregator.start();
  // The handshake fails for want of a certificate: the aggregator keeps running, retries, and logs the failure.
  const bool logged = poll_until(
      [&] {
        const auto log = aggregator.log_text();
        return log.find("connect to ") != std::string::npos && log.find(" failed") != std::string::npos;
      },
      30s);
  INFO("aggregator log:\n" << aggregator.log_text() << "\nbroker log:\n" << broker.log_text());
  CHECK(logged);
  CHECK(aggregator.running());
  CHECK(broker.log_text().find("aggregator-tls") == std::string::npos);  // never got a session
  CHECK(aggregator.terminate() == 0);
}

}  // namespace ec::test::agg
