// Hellos: verify (the hello certifies its own key), admit by the enrollment mode, record online/offline by
// session_seq, and remember the agent's kernels and devices for matching (never those of resource groups out of
// service).
#include <algorithm>
#include <set>

#include "ec/aggregator/aggregator_service.hpp"
#include "ec/aggregator/hello_devices.hpp"
#include "ec/protocol/envelope.hpp"
#include "ec/protocol/message_views.hpp"

namespace ec::aggregator {

void aggregator_service::handle_hello(std::string_view topic_agent, protocol::byte_span payload) {
  if (payload.empty()) return;  // a cleared retained hello
  protocol::open_options o;
  o.expected_kind = protocol::message_kind::agent_hello;
  o.prefix = topics_.prefix();
  o.trust = &keys_;
  o.max_payload = options_.max_payload;
  auto env = protocol::open(payload, o);
  if (!env || env->signer_agent_id != topic_agent) {
    {
      std::lock_guard lk(mu_);
      ++counters_.messages_rejected;
    }
    log_.limited("hello_rejected", log_level::warn, "hello", "hello rejected",
                 {{"topic_agent", std::string(topic_agent)},
                  {"error", env ? std::string("signer does not match the topic") : env.err().what()}});
    return;
  }
  const protocol::agent_hello_view view(env->body);
  auto key = protocol::public_key::from_spki_der(view.public_key(), true);
  if (!key) return;
  const auto now = now_ms();
  auto row = gate_.admit(*key, view.enrollment_token(), now);
  if (!row) {
    {
      std::lock_guard lk(mu_);
      ++counters_.hellos_refused;
    }
    log_.limited("hello_refused:" + env->signer_agent_id, log_level::warn, "enroll", "agent not admitted",
                 {{"agent", env->signer_agent_id}, {"error", row.err().what()}}, 2);
    return;
  }
  const auto hello = view.decode();
  if (auto r = db_.record_hello(row->agent_id, hello.session_seq, hello.online, env->body, now); !r)
    log_.write(log_level::warn, "hello", "cannot record hello", {{"agent", row->agent_id}, {"error", r.err().what()}});
  keys_.remember(*key);
  validator_.load_trust(*row);

  auto& entry = agents_[row->agent_id];
  const bool first = entry.profile.agent_id.empty();
  entry.profile.agent_id = row->agent_id;
  entry.profile.principal = row->principal;
  if (hello.online) {
    entry.session_seq = std::max(entry.session_seq, hello.session_seq);
    entry.profile.online = true;
    entry.profile.state = hello.state;
    entry.profile.devices = devices_in_service(hello);
    if (hello.out_of_service != entry.out_of_service) {
      entry.out_of_service = hello.out_of_service;
      log_.limited("out_of_service:" + row->agent_id, log_level::warn, "hello", "resource groups out of service",
                   {{"agent", row->agent_id}, {"groups", group_list(entry.out_of_service)}}, 2);
    }
  } else if (hello.session_seq >= entry.session_seq) {
    // protocol.md: an offline hello (the Last Will) counts only if it is not older than the session we know.
    entry.profile.online = false;
    held_.erase(row->agent_id);
  }
  {
    std::lock_guard lk(mu_);
    ++counters_.hellos;
  }
  if (first) {
    std::set<std::string> kernels;
    for (const auto& d : hello.devices) kernels.insert(d.kernels.begin(), d.kernels.end());
    std::string list;
    for (const auto& k : kernels) list += (list.empty() ? "" : ",") + k;
    log_.write(log_level::info, "hello", hello.online ? "agent online" : "agent offline",
               {{"agent", row->agent_id},
                {"principal", row->principal},
                {"session_seq", std::to_string(hello.session_seq)},
                {"kernels", list}});
  } else {
    log_.write(log_level::debug, "hello", hello.online ? "agent online" : "agent offline",
               {{"agent", row->agent_id}, {"session_seq", std::to_string(hello.session_seq)}});
  }
  if (hello.online) replay_deferred();
}

void aggregator_service::replay_deferred() {
  if (deferred_.empty()) return;
  // Requests and results that came before the hello enrolling their signer: judge them again now.
  auto pending = std::move(deferred_);
  deferred_.clear();
  for (const auto& m : pending) {
    if (m.topic == topics_.work()) {
      handle_work_request(m.payload, true);
    } else {
      handle_result_batch(m.payload, true);
    }
  }
}

}  // namespace ec::aggregator
