// The agent's wiring, shared by the daemon and the C API. Parts are built in dependence order and released in
// reverse (the runtime first), so no thread outlives what it uses.
#include "ec/agent/agent_assembly.hpp"

#include "ec/agent/agent_identity.hpp"
#include "ec/agent/daemon.hpp"
#include "ec/agent/in_process_executor.hpp"
#include "ec/agent/log.hpp"
#include "ec/agent/worker_discovery.hpp"
#include "ec/agent/worker_process_executor.hpp"
#include "ec/protocol/keys.hpp"
#include "ec/protocol/mbedtls_signer.hpp"

namespace ec::agent {
namespace {

constexpr std::string_view component = "agent";

result<std::unique_ptr<protocol::static_trust_store>> load_trust(const agent_config& c) {
  if (c.trust.aggregator_keys.empty())
    return fail(error_code::invalid_argument, "trust.aggregator_keys is empty: the agent would accept no task");
  auto trust = std::make_unique<protocol::static_trust_store>(protocol::mbedtls_verifier_factory());
  for (const auto& path : c.trust.aggregator_keys) {
    auto key = protocol::public_key::load(path);
    if (!key) return error{key.err().code, "trust.aggregator_keys: " + path + ": " + key.err().message};
    trust->trust_aggregator(*key);
  }
  // Code keys sign custom kernel code only (message_kind::code), never an envelope.
  for (const auto& path : c.trust.code_keys) {
    auto key = protocol::public_key::load(path);
    if (!key) return error{key.err().code, "trust.code_keys: " + path + ": " + key.err().message};
    trust->trust(*key, {protocol::message_kind::code});
  }
  return trust;
}

log_level log_level_of(transport::log_level level) {
  switch (level) {
    case transport::log_level::error:
      return log_level::error;
    case transport::log_level::warn:
      return log_level::warn;
    case transport::log_level::info:
      return log_level::info;
    default:
      return log_level::debug;
  }
}

result<transport::session_options> session_options_of(const agent_config& c, std::string_view agent_id) {
  transport::session_options o;
  o.url = c.broker.url;
  o.client_id = std::string(agent_id);
  o.username = c.broker.username.empty() ? std::string(agent_id) : c.broker.username;
  auto password = read_broker_password(c.broker);
  if (!password) return password.err();
  o.password = *password;
  o.tls = {c.broker.tls.ca_file, c.broker.tls.cert_file, c.broker.tls.key_file, c.broker.tls.verify_hostname};
  o.keepalive_s = c.broker.keepalive_s;
  o.reconnect_min_ms = c.broker.reconnect_min_ms;
  o.reconnect_max_ms = c.broker.reconnect_max_ms;
  o.max_payload_bytes = c.broker.max_payload_bytes;
  o.allow_insecure_transport = c.broker.allow_insecure_transport;
  o.log = [](transport::log_level level, std::string_view message) { log(log_level_of(level), "mqtt", message); };
  return o;
}

// With worker processes, discovery runs in a child too; a hanging GPU driver costs its backends, not the agent.
result<probe_report> discover_devices(const agent_config& c, const probe_options& po) {
  if (c.agent.executor != "worker") return run_probe(po);
  discovery_options d;
  d.probe = po;
  d.timeout = std::chrono::seconds(c.agent.discovery_timeout_s);
  d.memory_limit_mib = c.agent.worker_memory_mib;
  d.idle_priority = c.agent.worker_idle_priority;
  auto found = discover_in_child(d);
  if (found || found.code() != error_code::timeout) return found;
  log(log_level::error, component, "device discovery hung; going on with the CPU backend only",
      {{"error", found.err().what()}});
  for (const auto& name : backends::module_backend_names()) d.probe.disabled_backends.push_back(name);
  return discover_in_child(d);
}

probe_options probe_options_of(const agent_config& c) {
  probe_options po;
  po.state_dir = state_dir_of(c);
  po.module_dir = c.devices.module_dir;
  po.disabled_backends = c.devices.disabled_backends;
  po.cpu_threads = c.devices.cpu_threads;  // the in-process executor runs on these devices
  po.custom_cache_entries = c.devices.custom_cache_entries;
  po.backend_filter = c.devices.backend;
  po.device_filter = c.devices.device_filter;
  return po;
}

std::unique_ptr<executor> make_executor(const agent_config& c, const probe_report& devices) {
  if (c.agent.executor == "in_process")
    return std::make_unique<in_process_executor>(*devices.selector, c.agent.max_slots);
  worker_executor_options o;
  o.state_dir = state_dir_of(c);
  o.module_dir = c.devices.module_dir;
  o.disabled_backends = c.devices.disabled_backends;
  o.cpu_threads = c.devices.cpu_threads;
  o.custom_cache_entries = c.devices.custom_cache_entries;
  o.memory_limit_mib = c.agent.worker_memory_mib;
  o.idle_priority = c.agent.worker_idle_priority;
  return std::make_unique<worker_process_executor>(*devices.selector, c.agent.max_slots, std::move(o));
}

// Names the failing step in the message, keeping the code.
error in_step(const error& e, std::string_view step) { return error{e.code, std::string(step) + ": " + e.message}; }

}  // namespace

result<std::shared_ptr<const protocol::signer>> agent_signer(const agent_config& config,
                                                             std::shared_ptr<const protocol::signer> host_signer) {
  if (host_signer) return host_signer;  // the host holds the private key: none is created or loaded here
  const auto state = state_dir_of(config);
  if (auto id = ensure_identity(state); !id) return in_step(id.err(), "cannot create the agent key");
  auto own = load_signer(state);
  if (!own) return in_step(own.err(), "cannot load the agent key");
  return std::shared_ptr<const protocol::signer>(std::move(*own));
}

result<std::unique_ptr<agent_assembly>> agent_assembly::build(const agent_config& config, assembly_options options) {
  std::unique_ptr<agent_assembly> a(new agent_assembly());
  a->config_ = config;
  const auto& c = a->config_;
  auto signer = agent_signer(c, std::move(options.signer));
  if (!signer) return signer.err();
  a->signer_ = std::move(*signer);
  a->agent_id_ = protocol::agent_id_of(a->signer_->key().id());
  auto trust = load_trust(c);
  if (!trust) return in_step(trust.err(), "invalid trust configuration");
  a->trust_ = std::move(*trust);
  auto session = session_options_of(c, a->agent_id_);
  if (!session) return in_step(session.err(), "invalid broker configuration");
  auto devices = discover_devices(c, probe_options_of(c));
  if (!devices) return in_step(devices.err(), "device discovery failed");
  a->devices_ = std::move(*devices);
  auto journal_store = journal::open({state_dir_of(c)});
  if (!journal_store) return in_step(journal_store.err(), "cannot open the journal");
  a->journal_ = std::move(*journal_store);
  auto spool = result_spool::open(*a->journal_, result_spool_config::from(c.spool));
  if (!spool) return in_step(spool.err(), "cannot open the result spool");
  a->spool_ = std::move(*spool);
  a->exec_ = make_executor(c, a->devices_);
  a->session_ = std::make_unique<transport::mqtt_session>(std::move(*session));

  runtime_parts parts;
  parts.config = &a->config_;
  parts.signer = a->signer_.get();
  parts.trust = a->trust_.get();
  parts.devices = a->devices_.devices.get();
  parts.selector = a->devices_.selector.get();
  parts.exec = a->exec_.get();
  parts.journal_store = a->journal_.get();
  parts.spool = a->spool_.get();
  parts.session = a->session_.get();
  parts.status_file = state_dir_of(c) / "status.txt";
  parts.host_feed = std::move(options.host_feed);
  parts.on_result_spooled = std::move(options.on_result_spooled);
  parts.on_state_applied = std::move(options.on_state_applied);
  a->runtime_ = std::make_unique<agent_runtime>(std::move(parts));
  return a;
}

agent_assembly::~agent_assembly() {
  if (running_) runtime_->stop(false);
  runtime_.reset();  // before the session, executor and spool it uses
}

result<void> agent_assembly::start() {
  if (auto r = runtime_->start(); !r) return in_step(r.err(), "cannot start the agent");
  running_ = true;
  const auto st = runtime_->stats();
  log(log_level::info, component, "agent ready",
      {{"agent_id", agent_id_},
       {"broker", redact(config_.broker.url)},
       {"restart_reruns", st.restart_reruns},
       {"restart_cancelled", st.restart_cancelled}});
  return {};
}

void agent_assembly::stop(bool drain) {
  if (!running_) return;
  runtime_->stop(drain);
  running_ = false;
  const auto st = runtime_->stats();
  log(log_level::info, component, "stopped",
      {{"admitted", st.tasks_admitted}, {"results", st.results_spooled}, {"rejected_messages", st.messages_rejected}});
}

}  // namespace ec::agent
