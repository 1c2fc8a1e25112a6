// Region-wide Controls: the operator writes a request into the database (edgectl pause-all / resume-all); the
// aggregator signs it with its key and publishes it retained on P/control, with the request's seq, so agents
// apply each one once and in order. Several aggregators publishing the same seq send the same decision.
#include "ec/aggregator/aggregator_service.hpp"
#include "ec/protocol/envelope.hpp"

namespace ec::aggregator {

void aggregator_service::publish_region_control(std::uint64_t now) {
  if (republish_control_.exchange(false)) published_control_seq_ = 0;
  auto latest = db_.latest_region_control();
  if (!latest) {
    log_.limited("db_error", log_level::error, "control", "storage error", {{"error", latest.err().what()}});
    return;
  }
  if (!latest->has_value() || (*latest)->seq <= published_control_seq_) return;
  const auto& row = **latest;
  if (row.desired_state > 2) return;  // the schema's CHECK refuses it; a hand-edited file is not trusted
  protocol::control c;
  c.agent_id = "";
  c.seq = row.seq;
  c.desired_state = static_cast<protocol::agent_state>(row.desired_state);
  c.sent_at_ms = now;
  const auto body = protocol::build(c);
  auto sealed = protocol::seal(protocol::message_kind::control, body, topics_.prefix(), key_);
  if (!sealed) {
    log_.limited("seal_failed", log_level::error, "control", "cannot sign control", {{"error", sealed.err().what()}});
    return;
  }
  if (!session_ || !session_->connected()) return;  // retried on a later tick
  if (auto r = session_->publish(topics_.region_control(), *sealed, 1, true, 0); !r) {
    log_.limited("publish_failed", log_level::warn, "control", "publish failed", {{"error", r.err().what()}});
    return;
  }
  published_control_seq_ = row.seq;
  if (row.published_at_ms == 0) (void)db_.mark_region_control_published(row.seq, now);
  {
    std::lock_guard lk(mu_);
    ++counters_.controls_published;
  }
  const char* state = row.desired_state == 0 ? "run" : row.desired_state == 1 ? "pause" : "drain";
  log_.write(log_level::info, "control", "region control published",
             {{"seq", std::to_string(row.seq)}, {"desired_state", state}});
}

}  // namespace ec::aggregator
