// edge-aggregator: the command line over the aggregator service (run, keygen, pubkey, version).
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "ec/aggregator/aggregator_config.hpp"
#include "ec/aggregator/aggregator_service.hpp"
#include "ec/aggregator/sqlite_storage.hpp"
#include "ec/protocol/keys.hpp"
#include "ec/protocol/openssl_signer.hpp"

namespace {

using namespace ec;
using namespace ec::aggregator;

constexpr const char* version = "0.1.0";

int fail_with(const std::string& what) {
  std::fprintf(stderr, "edge-aggregator: %s\n", what.c_str());
  return 1;
}

result<std::unique_ptr<protocol::openssl_signer>> load_signer(const std::string& path) {
  // private_key::load refuses a key file that group or others can read.
  auto key = protocol::private_key::load(path);
  if (!key) return fail(key.code(), "key file " + path + ": " + key.err().message);
  auto pem = key->to_pem();
  if (!pem) return pem.err();
  return protocol::openssl_signer::from_pem(*pem);
}

int keygen(const std::string& path, bool force) {
  if (std::filesystem::exists(path) && !force)
    return fail_with(path + " exists; pass --force to replace it (agents trust the old public key)");
  auto key = protocol::private_key::generate();
  if (!key) return fail_with(key.err().what());
  if (auto r = key->save(path); !r) return fail_with(r.err().what());
  const auto pub = path + ".pub";
  if (auto r = protocol::save_public_key(key->public_half(), pub); !r) return fail_with(r.err().what());
  std::printf("%s\n", protocol::to_hex(key->public_half().id()).c_str());
  std::fprintf(stderr, "wrote %s (private, 0600) and %s (for the agents' trust.aggregator_keys)\n", path.c_str(),
               pub.c_str());
  return 0;
}

int run(const std::string& config_path) {
  auto config = load_aggregator_config(config_path);
  if (!config) return fail_with(config.err().what());
  if (!protocol::is_valid_region(config->region))
    return fail_with(config_path + ": region.name '" + config->region + "' is not [a-z0-9-]{1,32}");
  event_log log(config->level);
  auto signer = load_signer(config->key_file);
  if (!signer) return fail_with(signer.err().what() + " (create one with: edge-aggregator keygen --key FILE)");
  auto password = broker_password(*config);
  if (!password) return fail_with(password.err().what());

  sqlite_options so;
  so.path = config->database;
  so.busy_timeout_ms = config->busy_timeout_ms;
  auto db = sqlite_storage::open(so);
  if (!db) return fail_with("database " + config->database + ": " + db.err().what());
  log.write(log_level::info, "storage", "database open",
            {{"path", config->database},
             {"schema_found", std::to_string((*db)->open_report().found_version)},
             {"migrations", std::to_string((*db)->open_report().migrations_applied)}});

  service_options o;
  o.region = config->region;
  o.session.url = config->broker_url;
  o.session.client_id = config->client_id;
  o.session.username = config->username;
  o.session.password = *password;
  o.session.tls.ca_file = config->tls_ca_file;
  o.session.tls.cert_file = config->tls_cert_file;
  o.session.tls.key_file = config->tls_key_file;
  o.session.tls.verify_hostname = config->tls_verify_hostname;
  o.session.allow_insecure_transport = config->allow_insecure_transport;
  o.session.keepalive_s = config->keepalive_s;
  o.session.clean_start = false;
  o.session.session_expiry_s = config->session_expiry_s;
  o.session.reconnect_min_ms = config->reconnect_min_ms;
  o.session.reconnect_max_ms = config->reconnect_max_ms;
  o.max_payload = config->max_payload_bytes;
  o.enrollment = config->enrollment;
  if (config->enrollment == enrollment_mode::allowlist) {
    auto list = load_allowlist(config->allowlist_file);
    if (!list) return fail_with(list.err().what());
    o.allowlist = std::move(*list);
  }
  if (config->enrollment == enrollment_mode::open)
    log.write(log_level::warn, "enroll", "open enrollment: every key is its own principal, no Sybil resistance");
  o.tick_ms = config->tick_ms;
  o.task_message_expiry_s = config->task_message_expiry_s;
  o.max_tasks_per_batch = config->max_tasks_per_batch;
  o.max_clock_skew_ms = config->max_clock_skew_ms;
  o.held_request_ttl_ms = config->held_request_ttl_ms;
  o.batch_retention_ms = config->batch_retention_ms;
  o.leases.grace_ms = config->lease_grace_ms;
  o.leases.initial_seconds_per_task = config->initial_seconds_per_task;
  o.matching.initial_batch = config->initial_batch;
  o.matching.target_batch_seconds = config->target_batch_seconds;
  o.matching.max_batch = config->max_tasks_per_batch;
  o.matching.max_payload = config->max_payload_bytes;
  o.ledger.checkpoint_every_entries = config->checkpoint_every_entries;
  o.ledger.checkpoint_every_ms = config->checkpoint_every_ms;
  o.trust.trust_after = config->trust_after;
  o.trust.replicate_one_in = config->replicate_one_in;
  o.trust.ringer_rate = config->ringer_rate;

  // Block the stop signals before any thread starts, so that only sigwait() below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  aggregator_service service(std::move(o), **db, **signer, log);
  if (auto r = service.start(); !r) return fail_with(r.err().what());
  int sig = 0;
  sigwait(&stop_signals, &sig);
  log.write(log_level::info, "service", "stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  service.stop();
  const auto c = service.counters();
  log.write(log_level::info, "service", "totals",
            {{"results_stored", std::to_string(c.results_stored)},
             {"units_validated", std::to_string(c.units_validated)},
             {"tasks_leased", std::to_string(c.tasks_leased)},
             {"receipts", std::to_string(c.receipts_sent)},
             {"results_redelivered", std::to_string(c.results_redelivered)},
             {"results_refused", std::to_string(c.results_refused)},
             {"messages_rejected", std::to_string(c.messages_rejected)},
             {"hellos_refused", std::to_string(c.hellos_refused)}});
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"edge-aggregator: the regional aggregator of edgecompute"};
  app.require_subcommand(1);
  std::string config_path = "aggregator.toml";
  auto* run_cmd = app.add_subcommand("run", "serve the region (SIGTERM stops cleanly)");
  run_cmd->add_option("-c,--config", config_path, "config file (docs/aggregator.md)")->required();
  std::string key_path;
  bool force = false;
  auto* keygen_cmd = app.add_subcommand("keygen", "create the aggregator's signing key (P-256) and KEY.pub");
  keygen_cmd->add_option("--key", key_path, "private key file to write (mode 0600)")->required();
  keygen_cmd->add_flag("--force", force, "replace an existing key");
  auto* pubkey_cmd = app.add_subcommand("pubkey", "print the public key of the config's key file (PEM)");
  pubkey_cmd->add_option("-c,--config", config_path, "config file")->required();
  app.add_subcommand("version", "print the version");
  CLI11_PARSE(app, argc, argv);

  if (*run_cmd) return run(config_path);
  if (*keygen_cmd) return keygen(key_path, force);
  if (*pubkey_cmd) {
    auto config = load_aggregator_config(config_path);
    if (!config) return fail_with(config.err().what());
    auto signer = load_signer(config->key_file);
    if (!signer) return fail_with(signer.err().what());
    std::printf("%s", (*signer)->key().to_pem().c_str());
    return 0;
  }
  std::printf("edge-aggregator %s\n", version);
  return 0;
}
