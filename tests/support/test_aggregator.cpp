// The test aggregator: receiver checks by open(), the aggregator-side result checks of protocol.md (task exists,
// lease, task_digest, output_digest) and receipts, with switches for the failure modes tests provoke.
#include "test_aggregator.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <stdexcept>

#include "ec/protocol/digests.hpp"
#include "ec/protocol/envelope.hpp"
#include "ec/protocol/message_views.hpp"
#include "ec/protocol/openssl_signer.hpp"
#include "ec/protocol/sha256.hpp"

namespace ec::test {
namespace {

using protocol::message_kind;

std::unique_ptr<protocol::signer> fresh_signer() {
  auto key = protocol::private_key::generate();
  if (!key) throw std::runtime_error("test_aggregator: key generation failed: " + key.err().what());
  auto pem = key->to_pem();
  if (!pem) throw std::runtime_error("test_aggregator: " + pem.err().what());
  auto s = protocol::openssl_signer::from_pem(*pem);
  if (!s) throw std::runtime_error("test_aggregator: " + s.err().what());
  return std::move(s.value());
}

protocol::topics topics_or_throw(const std::string& region) {
  auto t = protocol::topics::for_region(region);
  if (!t) throw std::runtime_error("test_aggregator: " + t.err().what());
  return std::move(t.value());
}

// "P/agents/<id>/<leaf>" -> <id>, else "".
std::string agent_of_topic(std::string_view topic, std::string_view prefix, std::string_view leaf) {
  const std::string head = std::string(prefix) + "/agents/";
  if (topic.substr(0, head.size()) != head) return {};
  auto rest = topic.substr(head.size());
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos || rest.substr(slash + 1) != leaf) return {};
  return std::string(rest.substr(0, slash));
}

bool same_digest(protocol::byte_span a, const protocol::sha256_digest& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

}  // namespace

test_aggregator::test_aggregator(test_aggregator_options options)
    : options_(std::move(options)),
      topics_(topics_or_throw(options_.region)),
      signer_(fresh_signer()),
      stranger_(fresh_signer()),
      trust_(protocol::openssl_verifier_factory()) {}

test_aggregator::~test_aggregator() { stop(); }

void test_aggregator::start(const std::string& url, std::chrono::milliseconds timeout) {
  if (!url.empty()) options_.url = url;
  transport::session_options o;
  o.url = options_.url;
  o.client_id = options_.client_id;
  o.username = options_.username;
  o.password = options_.password;
  o.tls = options_.tls;
  o.reconnect_min_ms = 50;
  o.reconnect_max_ms = 500;
  o.reconnect_seed = 7;
  o.connect_timeout_s = 5;
  o.clean_start = true;
  o.session_expiry_s = 0;
  o.max_payload_bytes = 4 * 1024 * 1024;  // the aggregator reads what the broker lets through
  if (options_.quiet) {
    o.log = [this](transport::log_level, std::string_view line) {
      std::lock_guard lk(mu_);
      if (log_lines_.size() < 10000) log_lines_.emplace_back(line);
    };
  }
  session_ = std::make_unique<transport::mqtt_session>(std::move(o));
  session_->on_message(
      [this](std::string_view topic, std::span<const std::uint8_t> payload) { on_message(topic, payload); });
  session_->on_connected([this](bool, std::uint16_t) { cv_.notify_all(); });
  session_->set_subscriptions({{topics_.shared_work(), 1}, {topics_.shared_results(), 1}, {topics_.all_hellos(), 1}});
  if (auto r = session_->start(); !r) throw std::runtime_error("test_aggregator: start: " + r.err().what());
  if (!session_->wait_connected(timeout)) {
    throw std::runtime_error("test_aggregator: no CONNACK from " + options_.url + ": " + session_->last_error().what());
  }
  started_ = true;
}

void test_aggregator::stop() {
  if (session_) session_->stop();
  started_ = false;
}

std::string test_aggregator::public_key_pem() const { return signer_->key().to_pem(); }

void test_aggregator::write_public_key(const std::string& path) const {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << public_key_pem();
  f.close();
  if (!f) throw std::runtime_error("test_aggregator: cannot write " + path);
  ::chmod(path.c_str(), 0644);
}

std::uint64_t test_aggregator::now_ms_locked() const {
  const auto wall =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  return static_cast<std::uint64_t>(wall + clock_offset_ms_);
}

std::uint64_t test_aggregator::now_ms() const {
  std::lock_guard lk(mu_);
  return now_ms_locked();
}

void test_aggregator::set_clock_offset(std::chrono::milliseconds offset) {
  std::lock_guard lk(mu_);
  clock_offset_ms_ = offset.count();
}

void test_aggregator::set_withhold_receipts(bool withhold) {
  std::lock_guard lk(mu_);
  withhold_receipts_ = withhold;
}

void test_aggregator::drop_next_result_batches(std::size_t n) {
  std::lock_guard lk(mu_);
  drop_batches_ = n;
}

void test_aggregator::set_answer_work_requests(bool answer) {
  std::vector<outgoing> out;
  {
    std::lock_guard lk(mu_);
    answer_requests_ = answer;
    if (answer) {
      std::vector<std::string> ids;
      for (const auto& [id, h] : held_) ids.push_back(id);
      for (const auto& id : ids) answer_held(id, out);
    }
  }
  flush(out);
}

void test_aggregator::fill_task_defaults(const std::string& agent_id, protocol::task& t) const {
  if (t.agent_id.empty()) t.agent_id = agent_id;
  if (t.job_id.empty()) t.job_id = "job-" + t.task_id;
  if (t.issued_at_ms == 0) t.issued_at_ms = now_ms();
  if (t.expires_at_ms == 0) t.expires_at_ms = t.issued_at_ms + std::uint64_t{options_.default_validity_s} * 1000;
  if (t.max_runtime_ms == 0) t.max_runtime_ms = options_.default_max_runtime_ms;
}

void test_aggregator::queue_tasks(const std::string& agent_id, std::vector<protocol::task> tasks) {
  for (auto& t : tasks) fill_task_defaults(agent_id, t);
  std::vector<outgoing> out;
  {
    std::lock_guard lk(mu_);
    auto& q = queue_[agent_id];
    for (auto& t : tasks) q.push_back(std::move(t));
    answer_held(agent_id, out);
  }
  cv_.notify_all();
  flush(out);
}

std::size_t test_aggregator::queued_tasks(const std::string& agent_id) const {
  std::lock_guard lk(mu_);
  const auto it = queue_.find(agent_id);
  return it == queue_.end() ? 0 : it->second.size();
}

protocol::bytes test_aggregator::seal(message_kind kind, protocol::byte_span body,
                                      const protocol::signer& signer) const {
  auto sealed = protocol::seal(kind, body, topics_.prefix(), signer);
  if (!sealed) throw std::runtime_error("test_aggregator: seal: " + sealed.err().what());
  return std::move(sealed.value());
}

void test_aggregator::record_issued(const protocol::task& t, const protocol::bytes& blob) {
  issued_task it;
  it.agent_id = t.agent_id;
  it.blob = blob;
  it.digest = protocol::task_digest(blob);
  issued_[{t.task_id, t.attempt}] = std::move(it);
  issued_ids_.insert(t.task_id);
  timings_[{t.task_id, t.attempt}] = task_timing{std::chrono::steady_clock::now(), {}, {}};
  ++counters_.tasks_issued;
}

protocol::bytes test_aggregator::sign_task_batch(const std::string& agent_id, std::vector<protocol::task> tasks,
                                                 const protocol::signer& signer, const std::string& in_reply_to) {
  std::vector<protocol::bytes> blobs;
  for (auto& t : tasks) {
    fill_task_defaults(agent_id, t);
    blobs.push_back(protocol::build(t));
  }
  {
    std::lock_guard lk(mu_);
    for (std::size_t i = 0; i < tasks.size(); ++i) record_issued(tasks[i], blobs[i]);
  }
  return sign_task_batch_blobs(agent_id, std::move(blobs), signer, in_reply_to);
}

protocol::bytes test_aggregator::sign_task_batch_blobs(const std::string& agent_id, std::vector<protocol::bytes> blobs,
                                                       const protocol::signer& signer, const std::string& in_reply_to) {
  protocol::task_batch b;
  b.agent_id = agent_id;
  b.in_reply_to = in_reply_to;
  b.tasks = std::move(blobs);
  b.sent_at_ms = now_ms();
  const auto body = protocol::build(b);
  return seal(message_kind::task_batch, body, signer);
}

void test_aggregator::publish_raw(const std::string& topic, protocol::byte_span payload, bool retained,
                                  std::uint32_t message_expiry_s) {
  if (!session_) throw std::runtime_error("test_aggregator: publish before start()");
  if (auto r = session_->publish(topic, payload, 1, retained, message_expiry_s); !r) {
    throw std::runtime_error("test_aggregator: publish to " + topic + ": " + r.err().what());
  }
}

void test_aggregator::send_control(const std::string& agent_id, std::uint64_t seq, protocol::agent_state desired_state,
                                   std::vector<std::string> cancel_task_ids, std::uint32_t max_slots) {
  protocol::control c;
  c.agent_id = agent_id;
  c.seq = seq;
  c.desired_state = desired_state;
  c.cancel_task_ids = std::move(cancel_task_ids);
  c.max_slots = max_slots;
  c.sent_at_ms = now_ms();
  const auto body = protocol::build(c);
  const auto wire = seal(message_kind::control, body, *signer_);
  const bool region_wide = agent_id.empty();
  publish_raw(region_wide ? topics_.region_control() : topics_.control(agent_id), wire, region_wide);
  {
    std::lock_guard lk(mu_);
    ++counters_.controls_sent;
  }
  cv_.notify_all();
}

void test_aggregator::flush(std::vector<outgoing>& out) {
  if (!session_) return;
  for (const auto& o : out) {
    if (auto r = session_->publish(o.topic, o.payload, 1, o.retained, o.expiry_s); !r) {
      std::lock_guard lk(mu_);
      log_lines_.push_back("test_aggregator: publish to " + o.topic + " failed: " + r.err().what());
    }
  }
  out.clear();
}

void test_aggregator::on_message(std::string_view topic, std::span<const std::uint8_t> payload) {
  std::vector<outgoing> out;
  {
    std::lock_guard lk(mu_);
    if (topic == topics_.work()) {
      handle_work_request(payload, out);
    } else if (topic == topics_.results()) {
      handle_result_batch(payload, out, false);
    } else if (!agent_of_topic(topic, topics_.prefix(), "hello").empty()) {
      handle_hello(payload, out);
    }
  }
  cv_.notify_all();
  flush(out);
}

void test_aggregator::handle_hello(std::span<const std::uint8_t> payload, std::vector<outgoing>& out) {
  if (payload.empty()) return;  // a cleared retained hello
  protocol::open_options o;
  o.expected_kind = message_kind::agent_hello;
  o.prefix = topics_.prefix();
  o.trust = &trust_;
  auto env = protocol::open(payload, o);
  if (!env) {
    ++counters_.messages_rejected;
    return;
  }
  const protocol::agent_hello_view view(env->body);
  auto key = protocol::public_key::from_spki_der(view.public_key(), true);
  if (!key) {
    ++counters_.messages_rejected;
    return;
  }
  auto hello = view.decode();
  auto& rec = agents_[hello.agent_id];
  const bool first = rec.hellos == 0;
  ++rec.hellos;
  ++counters_.hellos;
  rec.agent_id = hello.agent_id;
  rec.key = *key;
  if (hello.online) {
    rec.session_seq = hello.session_seq;
    rec.online = true;
    rec.state = hello.state;
    rec.paused_reason = hello.paused_reason;
    rec.max_slots = hello.max_slots;
    rec.last_control_seq = hello.last_control_seq;
    rec.spool_bytes = hello.spool_bytes;
    rec.devices = hello.devices;
    rec.out_of_service = hello.out_of_service;
    rec.kernels.clear();
    for (const auto& d : rec.devices) rec.kernels.insert(d.kernels.begin(), d.kernels.end());
  } else if (rec.offline_session_seq = hello.session_seq; hello.session_seq >= rec.session_seq) {
    rec.online = false;  // protocol.md: offline only if its session_seq >= the current one
  }
  trust_.trust_agent(*key);
  if (first && !deferred_.empty()) {
    // Messages that came before the hello that enrols their signer: judge them now.
    auto pending = std::move(deferred_);
    deferred_.clear();
    for (auto& [topic, bytes] : pending) {
      if (topic == topics_.work()) {
        handle_work_request(bytes, out);
      } else {
        handle_result_batch(bytes, out, true);
      }
    }
  }
}

void test_aggregator::handle_work_request(std::span<const std::uint8_t> payload, std::vector<outgoing>& out) {
  protocol::open_options o;
  o.expected_kind = message_kind::work_request;
  o.prefix = topics_.prefix();
  o.trust = &trust_;
  auto env = protocol::open(payload, o);
  if (!env) {
    if (env.code() == error_code::untrusted_key && deferred_.size() < 64) {
      deferred_.emplace_back(topics_.work(), protocol::bytes(payload.begin(), payload.end()));
      return;
    }
    ++counters_.messages_rejected;
    return;
  }
  const auto req = protocol::work_request_view(env->body).decode();
  ++counters_.work_requests;
  work_request_record rec;
  rec.request = req;
  rec.at = std::chrono::steady_clock::now();
  const auto key = std::make_pair(req.agent_id, req.request_id);
  if (const auto it = answered_.find(key); it != answered_.end()) {
    // A repeated request_id gets the same TaskBatch bytes again, not new leases.
    rec.repeated = true;
    ++counters_.work_requests_repeated;
    requests_.push_back(std::move(rec));
    out.push_back({topics_.tasks(req.agent_id), it->second, false, options_.task_message_expiry_s});
    ++counters_.task_batches_sent;
    return;
  }
  for (const auto& r : requests_) {
    if (r.request.agent_id == req.agent_id && r.request.request_id == req.request_id) rec.repeated = true;
  }
  if (rec.repeated) ++counters_.work_requests_repeated;
  requests_.push_back(std::move(rec));
  const auto want =
      std::min<std::uint64_t>(std::uint64_t{req.free_slots} + req.max_tasks, options_.max_tasks_per_batch);
  held_[req.agent_id] =
      held_request{req.request_id, static_cast<std::uint32_t>(std::max<std::uint64_t>(want, 1)), req.max_batch_bytes};
  answer_held(req.agent_id, out);
}

void test_aggregator::answer_held(const std::string& agent_id, std::vector<outgoing>& out) {
  if (!answer_requests_) return;
  const auto h = held_.find(agent_id);
  if (h == held_.end()) return;
  const auto q = queue_.find(agent_id);
  if (q == queue_.end() || q->second.empty()) return;  // long-poll: hold until tasks are queued
  auto msg = make_task_batch(agent_id, h->second.request_id, h->second.want, h->second.max_batch_bytes);
  answered_[{agent_id, h->second.request_id}] = msg.payload;
  held_.erase(h);
  out.push_back(std::move(msg));
  ++counters_.task_batches_sent;
}

test_aggregator::outgoing test_aggregator::make_task_batch(const std::string& agent_id, const std::string& request_id,
                                                           std::uint32_t want, std::uint64_t max_batch_bytes) {
  auto& q = queue_[agent_id];
  protocol::task_batch b;
  b.agent_id = agent_id;
  b.in_reply_to = request_id;
  b.sent_at_ms = now_ms_locked();
  std::size_t total = 1024;  // envelope, signature and batch fields
  std::size_t taken = 0;
  while (taken < q.size() && taken < want) {
    auto blob = protocol::build(q[taken]);
    if (taken > 0 && max_batch_bytes > 0 && total + blob.size() + 64 > max_batch_bytes) break;
    total += blob.size() + 64;
    record_issued(q[taken], blob);
    b.tasks.push_back(std::move(blob));
    ++taken;
  }
  q.erase(q.begin(), q.begin() + static_cast<std::ptrdiff_t>(taken));
  const auto body = protocol::build(b);
  return {topics_.tasks(agent_id), seal(message_kind::task_batch, body, *signer_), false,
          options_.task_message_expiry_s};
}

void test_aggregator::handle_result_batch(std::span<const std::uint8_t> payload, std::vector<outgoing>& out,
                                          bool replay) {
  if (!replay) {
    ++counters_.result_batches;
    result_batch_record br;
    br.payload.assign(payload.begin(), payload.end());
    br.at = std::chrono::steady_clock::now();
    if (drop_batches_ > 0) {
      --drop_batches_;
      br.dropped = true;
      ++counters_.result_batches_dropped;
      batches_.push_back(std::move(br));
      return;
    }
    const auto h = protocol::sha256_of(payload);
    if (!batch_hashes_.insert(h).second) {
      br.identical = true;
      ++counters_.result_batches_identical;
    }
    batches_.push_back(std::move(br));
  }
  protocol::open_options o;
  o.expected_kind = message_kind::result_batch;
  o.prefix = topics_.prefix();
  o.trust = &trust_;
  auto env = protocol::open(payload, o);
  if (!env) {
    if (env.code() == error_code::untrusted_key && deferred_.size() < 64) {
      deferred_.emplace_back(topics_.results(), protocol::bytes(payload.begin(), payload.end()));
      return;
    }
    ++counters_.messages_rejected;
    return;
  }
  const std::string signer_agent = env->signer_agent_id;
  if (!replay && !batches_.empty()) batches_.back().agent_id = signer_agent;
  const protocol::result_batch_view batch(*env);
  protocol::receipt receipt;
  receipt.agent_id = signer_agent;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const auto view = batch.result(i);
    result_record rec;
    rec.agent_id = signer_agent;
    rec.result = view.decode();
    rec.blob.assign(view.blob().begin(), view.blob().end());
    rec.result_digest = view.digest();
    const auto key = std::make_pair(std::string(view.task_id()), view.attempt());
    const auto issued = issued_.find(key);
    if (issued_ids_.count(key.first) == 0) {
      rec.reason = "unknown_task";
    } else if (issued == issued_.end() || issued->second.agent_id != signer_agent) {
      rec.reason = "no_lease";
    } else if (!same_digest(view.task_digest(), issued->second.digest)) {
      rec.reason = "task_digest_mismatch";
    } else {
      const auto outputs = view.outputs();
      const auto declared = view.output_digest();
      if (view.status() == protocol::result_status::ok || !outputs.empty() || !declared.empty()) {
        if (!same_digest(declared, protocol::output_digest(outputs))) rec.reason = "output_digest_mismatch";
      }
    }
    protocol::receipt_entry entry;
    entry.task_id = key.first;
    entry.attempt = key.second;
    entry.result_digest.assign(rec.result_digest.begin(), rec.result_digest.end());
    if (rec.reason.empty()) {
      rec.accepted = true;
      entry.accepted = true;
      if (accepted_.count(key) != 0) {
        rec.duplicate = true;
        ++counters_.results_duplicate;
      } else {
        accepted_.emplace(key, rec);
        ++counters_.results_accepted;
        if (const auto t = timings_.find(key); t != timings_.end())
          t->second.result_at = std::chrono::steady_clock::now();
      }
    } else {
      ++counters_.results_refused;
      entry.reason = rec.reason;
    }
    receipt.entries.push_back(std::move(entry));
    results_.push_back(std::move(rec));
  }
  if (withhold_receipts_) {
    ++counters_.receipts_withheld;
    return;
  }
  receipt.sent_at_ms = now_ms_locked();
  const auto receipted_at = std::chrono::steady_clock::now();
  for (const auto& e : receipt.entries) {
    const auto t = timings_.find({e.task_id, e.attempt});
    if (e.accepted && t != timings_.end() && t->second.receipted == std::chrono::steady_clock::time_point{})
      t->second.receipted = receipted_at;
  }
  const auto body = protocol::build(receipt);
  out.push_back({topics_.receipts(signer_agent), seal(message_kind::receipt, body, *signer_), false, 0});
  ++counters_.receipts_sent;
}

std::map<std::pair<std::string, std::uint32_t>, task_timing> test_aggregator::task_timings() const {
  std::lock_guard lk(mu_);
  return timings_;
}

bool test_aggregator::wait_until(const std::function<bool(const aggregator_counters&)>& pred,
                                 std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  return cv_.wait_for(lk, timeout, [&] { return pred(counters_); });
}

bool test_aggregator::wait_results(std::size_t n, std::chrono::milliseconds timeout) {
  return wait_until([n](const aggregator_counters& c) { return c.results_accepted >= n; }, timeout);
}

bool test_aggregator::wait_result_for(const std::string& task_id, std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  return cv_.wait_for(lk, timeout, [&] {
    return std::any_of(accepted_.begin(), accepted_.end(), [&](const auto& kv) { return kv.first.first == task_id; });
  });
}

bool test_aggregator::wait_hello(const std::string& agent_id, std::chrono::milliseconds timeout,
                                 std::optional<std::uint64_t> after_session_seq) {
  std::unique_lock lk(mu_);
  return cv_.wait_for(lk, timeout, [&] {
    const auto it = agents_.find(agent_id);
    if (it == agents_.end() || !it->second.online) return false;
    return !after_session_seq || it->second.session_seq > *after_session_seq;
  });
}

bool test_aggregator::wait_agent(const std::string& agent_id, const std::function<bool(const agent_record&)>& pred,
                                 std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  return cv_.wait_for(lk, timeout, [&] {
    const auto it = agents_.find(agent_id);
    return it != agents_.end() && pred(it->second);
  });
}

bool test_aggregator::wait_offline(const std::string& agent_id, std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  return cv_.wait_for(lk, timeout, [&] {
    const auto it = agents_.find(agent_id);
    return it != agents_.end() && it->second.hellos > 0 && !it->second.online;
  });
}

bool test_aggregator::wait_work_request(const std::string& agent_id, std::size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  return cv_.wait_for(lk, timeout, [&] {
    std::size_t k = 0;
    for (const auto& r : requests_) k += agent_id.empty() || r.request.agent_id == agent_id ? 1 : 0;
    return k >= n;
  });
}

bool test_aggregator::wait_identical_result_batches(std::size_t n, std::chrono::milliseconds timeout) {
  return wait_until([n](const aggregator_counters& c) { return c.result_batches_identical >= n; }, timeout);
}

bool test_aggregator::wait_receipts(std::size_t n, std::chrono::milliseconds timeout) {
  return wait_until([n](const aggregator_counters& c) { return c.receipts_sent >= n; }, timeout);
}

aggregator_counters test_aggregator::counters() const {
  std::lock_guard lk(mu_);
  return counters_;
}

std::optional<agent_record> test_aggregator::agent(const std::string& agent_id) const {
  std::lock_guard lk(mu_);
  const auto it = agents_.find(agent_id);
  if (it == agents_.end()) return std::nullopt;
  return it->second;
}

std::map<std::pair<std::string, std::uint32_t>, result_record> test_aggregator::accepted() const {
  std::lock_guard lk(mu_);
  return accepted_;
}

std::vector<result_record> test_aggregator::results() const {
  std::lock_guard lk(mu_);
  return results_;
}

std::vector<result_record> test_aggregator::results_for(const std::string& task_id) const {
  std::lock_guard lk(mu_);
  std::vector<result_record> out;
  for (const auto& r : results_) {
    if (r.result.task_id == task_id) out.push_back(r);
  }
  return out;
}

std::vector<result_batch_record> test_aggregator::result_batches() const {
  std::lock_guard lk(mu_);
  return batches_;
}

std::vector<work_request_record> test_aggregator::work_requests() const {
  std::lock_guard lk(mu_);
  return requests_;
}

std::vector<std::string> test_aggregator::log_lines() const {
  std::lock_guard lk(mu_);
  return log_lines_;
}

transport::session_stats test_aggregator::session_stats() const {
  return session_ ? session_->stats() : transport::session_stats{};
}

}  // namespace ec::test
