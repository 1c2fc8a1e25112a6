// Lifecycle, connection and hello of the agent runtime. Every incoming message runs on the transport's callback
// thread; state shared with the executor's completion callbacks and the timer thread is guarded by mu_.
#include "ec/agent/agent_runtime.hpp"

#include <sys/utsname.h>

#include <algorithm>
#include <cstdio>

#include "ec/agent/log.hpp"
#include "ec/agent/out_of_service.hpp"
#include "ec/protocol/envelope.hpp"
#include "ec/protocol/keys.hpp"

namespace ec::agent {
namespace {

constexpr std::string_view component = "agent";
constexpr std::string_view agent_version = "0.1.0";

std::string uname_field(std::string (*pick)(const utsname&)) {
  utsname u{};
  if (::uname(&u) != 0) return {};
  return pick(u);
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

agent_runtime::agent_runtime(runtime_parts parts)
    : parts_(std::move(parts)),
      agent_id_(protocol::agent_id_of(parts_.signer->key().id())),
      topics_(protocol::topics::for_region(parts_.config->agent.region).value()),
      admission_(*parts_.selector,
                 admission_limits{std::uint64_t{parts_.config->agent.max_task_validity_s} * 1000,
                                  parts_.config->broker.max_payload_bytes, parts_.config->trust.allow_custom_kernels},
                 parts_.trust),
      energy_(std::make_unique<energy_history>(parts_.config->policy.sysfs_root)) {
  if (!parts_.now_ms)
    parts_.now_ms = [] {
      return static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
              .count());
    };
}

agent_runtime::~agent_runtime() { stop(false); }

result<void> agent_runtime::start() {
  guard_.restore(*parts_.journal_store);
  parts_.journal_store->read([&](const journal_state& s) {
    session_seq_ = s.session_seq;
    last_control_seq_ = s.control_seq;
  });
  recover_unfinished();
  if (auto r = start_owner_policy(); !r) return r;
  auto& session = *parts_.session;
  session.set_subscriptions({{topics_.tasks(agent_id_), 1},
                             {topics_.receipts(agent_id_), 1},
                             {topics_.control(agent_id_), 1},
                             {topics_.region_control(), 1}});
  session.on_message(
      [this](std::string_view topic, std::span<const std::uint8_t> payload) { on_message(topic, payload); });
  session.on_connected([this](bool session_present, std::uint16_t) { on_connected(session_present); });
  session.on_connection_lost([this](std::string_view reason) {
    std::lock_guard lock(mu_);
    connected_ = false;
    log(log_level::warn, component, "connection lost", {{"reason", reason}});
  });
  session.set_will_provider([this] { return make_will(); });
  if (auto r = session.start(); !r) return r;
  timer_ = std::thread([this] { timer_loop(); });
  // restart_reruns: tasks the journal held unfinished at start and ran again (the resilience suite counts them).
  const auto recovered = stats();
  log(log_level::info, component, "agent started",
      {{"agent_id", agent_id_},
       {"region", parts_.config->agent.region},
       {"restart_reruns", recovered.restart_reruns},
       {"restart_cancelled", recovered.restart_cancelled}});
  return {};
}

void agent_runtime::stop(bool drain) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !timer_.joinable()) return;
    stopping_ = true;
    if (drain) state_ = protocol::agent_state::drain;
  }
  changed_.notify_all();
  if (drain) {
    parts_.exec->drain();  // queued tasks are answered Cancelled through their completions
    std::unique_lock lock(mu_);
    changed_.wait_for(lock, std::chrono::seconds(parts_.config->agent.drain_timeout_s), [&] { return running_ == 0; });
  }
  if (timer_.joinable()) timer_.join();
  flush_results(true);
  if (drain) {
    publish_hello();  // state drain; the broker keeps the last retained hello
    parts_.session->wait_idle(std::chrono::seconds(5));
  }
  parts_.session->stop();
}

runtime_stats agent_runtime::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

protocol::agent_state agent_runtime::state() const {
  std::lock_guard lock(mu_);
  return effective_state_locked();
}

transport::will_options agent_runtime::make_will() {
  // Runs before every connect attempt: a new session_seq, journaled, so an old will can never mark a newer
  // session offline (protocol.md: offline only if session_seq >= the current one).
  std::uint64_t seq;
  {
    std::lock_guard lock(mu_);
    seq = ++session_seq_;
  }
  if (auto r = parts_.journal_store->write({session_seq{seq}}); !r)
    log(log_level::error, component, "cannot journal the session counter", {{"error", r.err().what()}});
  transport::will_options w;
  w.topic = topics_.hello(agent_id_);
  w.payload = sealed_hello(false, seq);
  w.qos = 1;
  w.retained = true;
  return w;
}

protocol::bytes agent_runtime::sealed_hello(bool online, std::uint64_t seq) {
  protocol::agent_hello h;
  h.agent_id = agent_id_;
  h.public_key = parts_.signer->key().spki_der();
  h.enrollment_token = parts_.config->agent.enrollment_token;
  h.session_seq = seq;
  h.version = std::string(agent_version);
  h.os = uname_field([](const utsname& u) { return std::string(u.sysname) + " " + u.release; });
  h.arch = uname_field([](const utsname& u) { return std::string(u.machine); });
  h.abi = "linux-gnu";
  for (const auto& d : parts_.devices->devices()) {
    auto info = d.info;
    info.kernels = parts_.selector->kernels_passed(d);
    if (info.kernels.empty()) continue;
    // "custom" tells the aggregator this device takes signed custom code (SPIR-V on Vulkan, OpenCL C on OpenCL).
    if (parts_.config->trust.allow_custom_kernels && (info.backend == "vulkan" || info.backend == "opencl"))
      info.kernels.emplace_back("custom");
    h.devices.push_back(std::move(info));
  }
  report_out_of_service(h, parts_.exec->out_of_service_groups());
  h.max_slots = parts_.exec->total_slots();  // slots of groups in service only
  h.online = online;
  {
    std::lock_guard lock(mu_);
    h.state = effective_state_locked();
    h.paused_reason = paused_reason_locked();
    h.last_control_seq = last_control_seq_;
  }
  h.spool_bytes = parts_.spool->stats().spooled_bytes;
  h.sent_at_ms = now();
  auto sealed =
      protocol::seal(protocol::message_kind::agent_hello, protocol::build(h), topics_.prefix(), *parts_.signer);
  return sealed ? std::move(*sealed) : protocol::bytes{};
}

void agent_runtime::publish_hello() {
  std::uint64_t seq;
  {
    std::lock_guard lock(mu_);
    seq = session_seq_;
  }
  const auto hello = sealed_hello(true, seq);
  if (auto r = parts_.session->publish(topics_.hello(agent_id_), hello, 1, true); !r)
    log(log_level::warn, component, "cannot publish the hello", {{"error", r.err().what()}});
}

void agent_runtime::on_connected(bool session_present) {
  {
    std::lock_guard lock(mu_);
    connected_ = true;
    // An answer to the outstanding WorkRequest may have been lost with the old connection: resend the same
    // request_id now, and the aggregator answers with the stored batch bytes (protocol.md), not new leases.
    if (!outstanding_request_.empty()) request_sent_ms_ = 0;
  }
  publish_hello();
  log(log_level::info, component, "connected", {{"session_present", session_present}});
  // Spooled results are republished on reconnect: MQTT PUBACKs are not receipts.
  // (A far-future "now" would do the same once, but it would also stamp the timers with it and silence every
  // later republish.)
  for (auto& b : parts_.spool->due(now(), true)) (void)parts_.session->publish(topics_.results(), b.envelope, 1);
  maybe_request_work();
}

void agent_runtime::on_message(std::string_view topic, std::span<const std::uint8_t> payload) {
  if (ends_with(topic, "/tasks")) return handle_task_batch(payload);
  if (ends_with(topic, "/receipts")) return handle_receipt(payload);
  if (topic == topics_.region_control()) return handle_control(payload, true);
  if (ends_with(topic, "/control")) return handle_control(payload, false);
}

result<protocol::opened_envelope> agent_runtime::open_message(std::span<const std::uint8_t> payload,
                                                              protocol::message_kind kind,
                                                              std::string_view topic_agent_id) {
  protocol::open_options o;
  o.expected_kind = kind;
  o.prefix = topics_.prefix();
  o.trust = parts_.trust;
  o.topic_agent_id = topic_agent_id;
  o.max_payload = parts_.config->broker.max_payload_bytes;
  auto opened = protocol::open(protocol::byte_span(payload.data(), payload.size()), o);
  if (!opened) {
    {
      std::lock_guard lock(mu_);
      ++stats_.messages_rejected;
    }
    log_remote(log_level::warn, component, "message refused",
               {{"kind", protocol::to_string(kind)}, {"error", opened.err().what()}});
  }
  return opened;
}

void agent_runtime::timer_loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    changed_.wait_for(lock, std::chrono::milliseconds(20));
    if (stopping_) break;
    lock.unlock();
    flush_results(false);
    republish_due();
    maybe_request_work();
    // Housekeeping walks every task seen (tens of thousands): once a second, not on every 20 ms tick.
    if (const auto t = now(); t - housekeeping_ms_ >= 1000) {
      housekeeping_ms_ = t;
      guard_.forget_expired(clock_.now(t));
      update_owner_policy(t);
      announce_out_of_service_change();
      if (auto r = parts_.journal_store->maybe_compact(t); !r)
        log(log_level::error, component, "journal compaction failed", {{"error", r.err().what()}});
    }
    write_status_file();
    lock.lock();
  }
}

void agent_runtime::announce_out_of_service_change() {
  auto groups = parts_.exec->out_of_service_groups();
  std::sort(groups.begin(), groups.end());
  if (groups == announced_out_of_service_) return;
  announced_out_of_service_ = groups;
  log(log_level::warn, component, "resource groups out of service", {{"groups", group_list(groups)}});
  bool connected = false;
  {
    std::lock_guard lock(mu_);
    connected = connected_;
  }
  if (connected) publish_hello();  // otherwise the hello on (re)connect carries it
  write_status_file(true);
}

void agent_runtime::write_status_file(bool force) {
  if (parts_.status_file.empty() || (!force && now() - status_written_ms_ < 2000)) return;
  std::lock_guard writing(status_mu_);
  status_written_ms_ = now();
  const auto st = stats();
  const auto sp = parts_.spool->stats();
  const auto session = parts_.session->stats();
  static constexpr const char* state_names[] = {"run", "pause", "drain"};
  std::string text;
  auto line = [&](const char* key, const std::string& value) { text += std::string(key) + " " + value + "\n"; };
  line("agent_id", agent_id_);
  line("state", state_names[static_cast<int>(state())]);
  line("connected", session.connected ? "yes" : "no");
  text += owner_status_lines();
  line("out_of_service", group_list(parts_.exec->out_of_service_groups()));
  line("tasks_admitted", std::to_string(st.tasks_admitted));
  line("tasks_answered", std::to_string(st.tasks_answered));
  line("tasks_dropped", std::to_string(st.tasks_dropped + st.tasks_replayed));
  line("messages_rejected", std::to_string(st.messages_rejected));
  line("results_spooled", std::to_string(st.results_spooled));
  line("spool_pending_batches", std::to_string(sp.pending_batches));
  line("spool_bytes", std::to_string(sp.spooled_bytes) + " of " + std::to_string(sp.capacity_bytes));
  line("dead_letters", std::to_string(sp.dead_letters));
  if (parts_.journal_store) line("journal_fdatasyncs", std::to_string(parts_.journal_store->stats().fdatasyncs));
  line("last_error", parts_.session->last_error().message.empty() ? "none" : parts_.session->last_error().what());
  line("updated_at_ms", std::to_string(now()));
  const auto tmp = parts_.status_file.string() + ".tmp";
  if (FILE* f = std::fopen(tmp.c_str(), "w")) {
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
    std::rename(tmp.c_str(), parts_.status_file.c_str());  // readers see the old or the new file, never half
  }
}

}  // namespace ec::agent
