// The service's life cycle, its inbound queue and worker thread, and the periodic tick.
#include "ec/aggregator/aggregator_service.hpp"

#include <chrono>
#include <stdexcept>

#include "ec/protocol/openssl_signer.hpp"

namespace ec::aggregator {
namespace {

protocol::topics topics_for(const std::string& region) {
  auto t = protocol::topics::for_region(region);
  // main.cpp validated the region before building the service; a bad one here is a programming error.
  if (!t) throw std::invalid_argument("aggregator_service: " + t.err().what());
  return std::move(t.value());
}

// "P/agents/<id>/hello" -> <id>, else "".
std::string hello_agent(std::string_view topic, const std::string& prefix) {
  const std::string head = prefix + "/agents/";
  if (topic.size() <= head.size() || topic.substr(0, head.size()) != head) return {};
  const auto rest = topic.substr(head.size());
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos || rest.substr(slash + 1) != "hello") return {};
  return std::string(rest.substr(0, slash));
}

}  // namespace

aggregator_service::aggregator_service(service_options options, storage& db, const protocol::signer& key,
                                       event_log& log)
    : options_(std::move(options)),
      db_(db),
      key_(key),
      log_(log),
      topics_(topics_for(options_.region)),
      gate_(db, options_.enrollment),
      keys_(db, protocol::openssl_verifier_factory()),
      ledger_(db, key, options_.ledger),
      // Each aggregator process flips its own coins for 1/n replication and ringers.
      trust_(options_.trust, seeded_random(std::random_device{}())),
      validator_(db, ledger_, trust_, log),
      speed_(options_.leases) {}

aggregator_service::~aggregator_service() { stop(); }

std::uint64_t aggregator_service::now_ms() const {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

result<void> aggregator_service::start() {
  if (started_) return {};
  const auto now = now_ms();
  if (auto r = gate_.admit_allowlist(options_.allowlist, now); !r) return r;
  if (auto agents = db_.list_agents(); agents) {
    for (const auto& a : *agents) {
      validator_.load_trust(a);
      if (auto k = protocol::public_key::from_spki_der(a.public_key_der, true); k) keys_.remember(*k);
    }
  }
  // Results committed before a crash whose unit was not decided yet: decide them now.
  auto unsettled = db_.unsettled_work_units(1'000'000);
  if (!unsettled) return unsettled.err();
  for (const auto& wu : *unsettled) {
    if (auto r = validator_.evaluate(wu, now); !r)
      log_.write(log_level::warn, "validate", "cannot evaluate", {{"wu", wu}, {"error", r.err().what()}});
  }
  if (!unsettled->empty())
    log_.write(log_level::info, "service", "resumed validation", {{"units", std::to_string(unsettled->size())}});

  auto so = options_.session;
  so.max_payload_bytes = options_.max_payload;
  if (!so.log) {
    so.log = [this](transport::log_level level, std::string_view line) {
      const auto l = level == transport::log_level::error  ? log_level::error
                     : level == transport::log_level::warn ? log_level::warn
                     : level == transport::log_level::info ? log_level::info
                                                           : log_level::debug;
      log_.write(l, "mqtt", line);
    };
  }
  session_ = std::make_unique<transport::mqtt_session>(std::move(so));
  session_->on_message(
      [this](std::string_view topic, std::span<const std::uint8_t> payload) { on_message(topic, payload); });
  session_->on_connected([this](bool session_present, std::uint16_t receive_maximum) {
    // A broker that lost our session may have lost the retained region Control too: publish it again.
    if (!session_present) republish_control_ = true;
    log_.write(log_level::info, "mqtt", "connected",
               {{"session_present", session_present ? "true" : "false"},
                {"receive_maximum", std::to_string(receive_maximum)}});
    wake();
  });
  session_->set_subscriptions({{topics_.shared_work(), 1}, {topics_.shared_results(), 1}, {topics_.all_hellos(), 1}});
  {
    std::lock_guard lk(mu_);
    stopping_ = false;
  }
  worker_ = std::thread([this] { run(); });
  if (auto r = session_->start(); !r) {
    stop();
    return r;
  }
  started_ = true;
  log_.write(log_level::info, "service", "started",
             {{"region", options_.region},
              {"enrollment", std::string(to_string(options_.enrollment))},
              {"key_id", protocol::agent_id_of(key_.key().id())}});
  return {};
}

void aggregator_service::stop() {
  {
    std::lock_guard lk(mu_);
    if (stopping_ && !worker_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (session_) session_->stop();
  if (worker_.joinable()) worker_.join();
  if (started_) {
    if (auto r = ledger_.checkpoint_now(now_ms()); !r)
      log_.write(log_level::error, "ledger", "final checkpoint failed", {{"error", r.err().what()}});
    log_.write(log_level::info, "service", "stopped");
  }
  started_ = false;
}

void aggregator_service::wake() {
  {
    std::lock_guard lk(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

service_counters aggregator_service::counters() const {
  std::lock_guard lk(mu_);
  return counters_;
}

transport::session_stats aggregator_service::session_stats() const {
  return session_ ? session_->stats() : transport::session_stats{};
}

void aggregator_service::on_message(std::string_view topic, std::span<const std::uint8_t> payload) {
  // Paho's callback thread: copy and return; a full queue drops (agents resend requests and republish results).
  {
    std::lock_guard lk(mu_);
    if (queue_.size() >= options_.max_queued_messages) {
      ++counters_.messages_dropped;
      log_.limited("queue_full", log_level::warn, "service", "input queue full, message dropped");
      return;
    }
    queue_.push_back({std::string(topic), protocol::bytes(payload.begin(), payload.end())});
  }
  cv_.notify_all();
}

void aggregator_service::run() {
  auto next_tick = std::chrono::steady_clock::now();
  for (;;) {
    std::deque<inbound> batch;
    bool tick_now = false;
    {
      std::unique_lock lk(mu_);
      cv_.wait_until(lk, next_tick, [&] { return stopping_ || !queue_.empty() || wake_; });
      if (stopping_) return;
      batch.swap(queue_);
      tick_now = wake_ || std::chrono::steady_clock::now() >= next_tick;
      wake_ = false;
    }
    for (const auto& m : batch) {
      try {
        handle(m);
      } catch (const std::exception& e) {
        // Input never crashes the service: log and go on with the next message.
        log_.limited("handler_exception", log_level::error, "service", "message handler failed",
                     {{"topic", m.topic}, {"error", e.what()}});
      }
    }
    if (tick_now) {
      try {
        tick(now_ms());
      } catch (const std::exception& e) {
        log_.limited("tick_exception", log_level::error, "service", "tick failed", {{"error", e.what()}});
      }
      next_tick = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.tick_ms);
    }
  }
}

void aggregator_service::handle(const inbound& m) {
  if (m.topic == topics_.work()) {
    handle_work_request(m.payload, false);
  } else if (m.topic == topics_.results()) {
    handle_result_batch(m.payload, false);
  } else if (const auto agent = hello_agent(m.topic, topics_.prefix()); !agent.empty()) {
    handle_hello(agent, m.payload);
  }
}

void aggregator_service::tick(std::uint64_t now) {
  if (now - last_expiry_ms_ >= 1000) {
    last_expiry_ms_ = now;
    auto expired = db_.expire_leases(now);
    if (!expired) {
      log_.limited("expire_failed", log_level::error, "lease", "expiry failed", {{"error", expired.err().what()}});
    } else if (!expired->empty()) {
      {
        std::lock_guard lk(mu_);
        counters_.leases_expired += expired->size();
      }
      for (const auto& e : *expired) {
        log_.write(log_level::info, "lease", "lease expired",
                   {{"task", e.task_id}, {"attempt", std::to_string(e.attempt)}, {"agent", e.agent_id}});
        // The job's max_attempts bounds the expiries of one task; past it the unit fails.
        auto change = validator_.on_lease_expired(e, now);
        if (!change) {
          log_.limited("expire_failed", log_level::error, "lease", "expiry handling failed",
                       {{"error", change.err().what()}});
        } else if (*change == unit_change::failed) {
          std::lock_guard lk(mu_);
          ++counters_.units_failed;
        }
      }
    }
  }
  if (now - last_resume_ms_ >= 30000) {
    // Another aggregator of the region may have stored a unit's deciding result and died before deciding it.
    last_resume_ms_ = now;
    if (auto unsettled = db_.unsettled_work_units(1000); unsettled) {
      for (const auto& wu : *unsettled) (void)validator_.evaluate(wu, now);
    }
  }
  if (now - last_prune_ms_ >= 60000) {
    last_prune_ms_ = now;
    if (now > options_.batch_retention_ms) (void)db_.prune_batches(now - options_.batch_retention_ms);
    for (auto it = held_.begin(); it != held_.end();) {
      it = now - it->second.held_since_ms > options_.held_request_ttl_ms ? held_.erase(it) : std::next(it);
    }
  }
  answer_held(now);
  if (auto signed_now = ledger_.maybe_checkpoint(now); !signed_now) {
    log_.limited("checkpoint_failed", log_level::error, "ledger", "checkpoint failed",
                 {{"error", signed_now.err().what()}});
  } else if (*signed_now) {
    std::lock_guard lk(mu_);
    ++counters_.checkpoints;
  }
  publish_region_control(now);
}

std::optional<protocol::opened_envelope> aggregator_service::open_agent_message(protocol::byte_span payload,
                                                                                protocol::message_kind kind,
                                                                                const std::string& topic,
                                                                                std::string_view what) {
  protocol::open_options o;
  o.expected_kind = kind;
  o.prefix = topics_.prefix();
  o.trust = &keys_;
  o.max_payload = options_.max_payload;
  auto env = protocol::open(payload, o);
  if (env) return std::move(env.value());
  if (env.code() == error_code::untrusted_key) {
    defer(topic, payload);
    return std::nullopt;
  }
  std::lock_guard lk(mu_);
  ++counters_.messages_rejected;
  const std::string w(what);
  log_.limited(w + "_rejected", log_level::warn, w, w + " message rejected", {{"error", env.err().what()}});
  return std::nullopt;
}

bool aggregator_service::defer(const std::string& topic, protocol::byte_span payload) {
  if (deferred_.size() >= options_.max_deferred_messages) deferred_.pop_front();
  deferred_.push_back({topic, protocol::bytes(payload.begin(), payload.end())});
  return true;
}

void aggregator_service::publish(const std::string& topic, const protocol::bytes& payload, bool retained,
                                 std::uint32_t expiry_s, std::string_view what) {
  if (!session_) return;
  if (auto r = session_->publish(topic, payload, 1, retained, expiry_s); !r)
    log_.limited("publish_failed", log_level::warn, "mqtt", "publish failed",
                 {{"what", std::string(what)}, {"topic", topic}, {"error", r.err().what()}});
}

}  // namespace ec::aggregator
