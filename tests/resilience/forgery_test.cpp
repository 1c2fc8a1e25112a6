// Resilience 6 (issue 7): forgery and replay against the real edge-aggregator and real edge-agents. The attacker
// holds what a real one could steal or make: an enrolled agent's key and broker password ("mallory"), the
// aggregator's broker password (not its signing key), and a key nobody enrolled. It captures valid messages its
// broker accounts may read and publishes mutations of them (bit flips, truncations, re-signed and re-addressed
// copies, another region's seal, an expired task, an old Control, replays later and after restarts). Nothing it
// sends may change the region's stored state, and every process stays up: `accepted forgeries | 0 of N`.
#include <algorithm>
#include <condition_variable>
#include <functional>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "ec/aggregator/ledger.hpp"  // canonical_principals(), used by resilience_support.hpp
#include "ec/protocol/digests.hpp"
#include "ec/protocol/envelope.hpp"
#include "ec/protocol/keys.hpp"
#include "ec/protocol/message_views.hpp"
#include "ec/protocol/messages.hpp"
#include "ec/protocol/openssl_signer.hpp"
#include "ec/protocol/sha256.hpp"
#include "ec/protocol/topics.hpp"
#include "ec/protocol/trust_store.hpp"
#include "ec/transport/mqtt_session.hpp"
#include "resilience_support.hpp"

namespace ec::test::res {
namespace {

using protocol::bytes;
using protocol::message_kind;

constexpr const char* test_name = "forgery";
constexpr auto wait_limit = std::chrono::seconds(60);

/// An MQTT client of the attacker: keeps every message its broker account may read, publishes what it may write.
class attacker_client {
 public:
  attacker_client(const std::string& url, const std::string& user, const std::string& password,
                  const std::string& client_id, const std::vector<std::string>& filters) {
    transport::session_options o;
    o.url = url;
    o.client_id = client_id;
    o.username = user;
    o.password = password;
    o.clean_start = true;
    o.reconnect_min_ms = 100;
    o.reconnect_max_ms = 1000;
    o.max_payload_bytes = 4 * 1024 * 1024;
    o.log = [](transport::log_level, std::string_view) {};
    session_ = std::make_unique<transport::mqtt_session>(std::move(o));
    session_->on_message([this](std::string_view topic, std::span<const std::uint8_t> payload) {
      std::lock_guard lk(mu_);
      seen_[std::string(topic)].emplace_back(payload.begin(), payload.end());
      cv_.notify_all();
    });
    std::vector<transport::subscription> subs;
    for (const auto& f : filters) subs.push_back({f, 1});
    session_->set_subscriptions(std::move(subs));
    REQUIRE(session_->start().ok());
    REQUIRE(session_->wait_connected(std::chrono::seconds(10)));
  }

  /// Publishes at QoS 1 and waits until the broker acknowledged it (or refused it: see refused()).
  void publish(const std::string& topic, const bytes& payload, bool retained = false) {
    REQUIRE(session_->publish(topic, payload, 1, retained).ok());
    REQUIRE(session_->wait_idle(std::chrono::seconds(10)));
  }
  /// Publishes acknowledged by the broker with a failure reason (the ACL said no).
  [[nodiscard]] std::uint64_t refused() const { return session_->stats().rejected; }

  /// Copies of the messages seen on one topic so far.
  [[nodiscard]] std::vector<bytes> seen(const std::string& topic) const {
    std::lock_guard lk(mu_);
    const auto it = seen_.find(topic);
    return it == seen_.end() ? std::vector<bytes>{} : it->second;
  }
  /// Waits until `pred(seen(topic))` holds or the deadline passes.
  bool wait_seen(const std::string& topic, const std::function<bool(const std::vector<bytes>&)>& pred,
                 std::chrono::milliseconds timeout) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout, [&] {
      const auto it = seen_.find(topic);
      return pred(it == seen_.end() ? std::vector<bytes>{} : it->second);
    });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::vector<bytes>> seen_;
  std::unique_ptr<transport::mqtt_session> session_;
};

/// The attempts of one kind and how many of them the region accepted.
struct tally {
  std::map<std::string, std::size_t> attempts;
  std::size_t total() const {
    std::size_t n = 0;
    for (const auto& a : attempts) n += a.second;
    return n;
  }
};

std::unique_ptr<protocol::signer> signer_from_file(const fs::path& key_file) {
  auto s = protocol::openssl_signer::from_pem(agg::read_file(key_file));
  REQUIRE(s.ok());
  return std::move(s).value();
}

std::unique_ptr<protocol::signer> fresh_signer() {
  auto key = protocol::private_key::generate();
  REQUIRE(key.ok());
  auto pem = key->to_pem();
  REQUIRE(pem.ok());
  auto s = protocol::openssl_signer::from_pem(*pem);
  REQUIRE(s.ok());
  return std::move(s).value();
}

bytes seal_or_fail(message_kind kind, const bytes& body, std::string_view prefix, const protocol::signer& key) {
  auto sealed = protocol::seal(kind, body, prefix, key);
  REQUIRE(sealed.ok());
  return std::move(sealed).value();
}

/// `count` copies of `wire`, each with one bit flipped, at positions spread over the whole message.
std::vector<bytes> bit_flips(const bytes& wire, std::size_t count, std::size_t salt) {
  std::vector<bytes> out;
  for (std::size_t i = 0; i < count && !wire.empty(); ++i) {
    auto copy = wire;
    const auto at = (i * wire.size() / count + salt * 7 + i) % wire.size();
    copy[at] ^= static_cast<std::uint8_t>(1U << ((i + salt) % 8));
    out.push_back(std::move(copy));
  }
  return out;
}

/// Prefixes of `wire`: eighths and all but the last byte.
std::vector<bytes> truncations(const bytes& wire) {
  std::vector<bytes> out;
  for (std::size_t eighth = 1; eighth < 8; ++eighth)
    out.emplace_back(wire.begin(), wire.begin() + static_cast<std::ptrdiff_t>(wire.size() * eighth / 8));
  out.emplace_back(wire.begin(), wire.end() - 1);
  return out;
}

/// Everything of the region's database that a forgery could change: units (state, canonical result, ledger entry,
/// replicas), tasks (leases), stored results (not their redelivery counts: a verbatim replay is counted there by
/// design), the ledger head, trust and credits; with `only_job`, that job's units alone. Hellos' online flags are
/// left out: the agents restart on purpose.
std::string stored_state(region& r, const std::string& only_job = {}) {
  auto db = r.db();
  std::ostringstream s;
  auto jobs = db->list_jobs();
  REQUIRE(jobs.ok());
  for (const auto& j : *jobs) {
    if (!only_job.empty() && j.job_id != only_job) continue;
    s << "job " << j.job_id << " " << aggregator::to_string(j.state) << "\n";
    auto units = db->list_work_units(j.job_id);
    REQUIRE(units.ok());
    for (const auto& u : *units) {
      s << " unit " << u.wu_id << " " << aggregator::to_string(u.state) << " ledger=" << u.ledger_seq
        << " replicas=" << u.replicas_wanted << " single=" << u.single_agent
        << " canonical=" << (u.canonical_digest ? protocol::to_hex(*u.canonical_digest) : "-") << "\n";
      auto tasks = db->tasks_for_work_unit(u.wu_id);
      REQUIRE(tasks.ok());
      for (const auto& t : *tasks)
        s << "  task " << t.task_id << "/" << t.attempt << " " << t.agent_id << " " << aggregator::to_string(t.state)
          << "\n";
      auto results = db->results_for_work_unit(u.wu_id);
      REQUIRE(results.ok());
      for (const auto& x : *results)
        s << "  result " << x.result.task_id << "/" << x.result.attempt << " " << x.result.agent_id << " "
          << protocol::to_hex(x.result.result_digest) << " status=" << int(x.result.status) << "\n";
    }
  }
  if (!only_job.empty()) return s.str();
  auto head = db->ledger_head();
  REQUIRE(head.ok());
  if (head->has_value()) s << "ledger head " << (*head)->seq << " " << protocol::to_hex((*head)->entry_hash) << "\n";
  auto agents = db->list_agents();
  REQUIRE(agents.ok());
  for (const auto& a : *agents) {
    auto balance = db->credit_balance(a.principal);
    REQUIRE(balance.ok());
    s << "agent " << a.agent_id << " " << a.principal << " trusted=" << a.trusted << " streak=" << a.trust_streak
      << " credits=" << *balance << "\n";
  }
  return s.str();
}

/// Lines in one snapshot and not in the other (both ways): what a forgery changed.
std::size_t changed_lines(const std::string& a, const std::string& b) {
  auto lines = [](const std::string& text) {
    std::multiset<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.insert(line);
    return out;
  };
  const auto la = lines(a), lb = lines(b);
  std::vector<std::string> diff;
  std::set_symmetric_difference(la.begin(), la.end(), lb.begin(), lb.end(), std::back_inserter(diff));
  return diff.size();
}

/// A number from an agent's status file (`edge-agent` rewrites it every 2 s); -1 when absent.
long agent_status(agent_process& a, const std::string& key) {
  std::istringstream in(agg::read_file(a.state_dir() / "status.txt"));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key + " ", 0) == 0) return std::strtol(line.c_str() + key.size() + 1, nullptr, 10);
  }
  return -1;
}

/// Messages and tasks an agent refused so far: failed open() (forged, tampered, misaddressed), dropped (replayed,
/// misaddressed Task) or answered without running (an expired task gets a signed Expired result).
long agent_refusals(agent_process& a) {
  const long rejected = agent_status(a, "messages_rejected");
  const long dropped = agent_status(a, "tasks_dropped");
  const long answered = agent_status(a, "tasks_answered");
  return rejected < 0 || dropped < 0 || answered < 0 ? -1 : rejected + dropped + answered;
}

/// Lines of a log that hold every one of `words`.
std::size_t lines_with(const std::string& log, const std::vector<std::string>& words) {
  std::istringstream in(log);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) {
    bool all = true;
    for (const auto& w : words) all = all && line.find(w) != std::string::npos;
    n += all ? 1 : 0;
  }
  return n;
}

/// The sum of `key=<n>` over the aggregator's "totals" lines (one per clean stop).
std::uint64_t aggregator_total(const std::string& log, const std::string& key) {
  std::istringstream in(log);
  std::uint64_t sum = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.find(" totals ") == std::string::npos) continue;
    const auto at = line.find(" " + key + "=");
    if (at != std::string::npos) sum += std::strtoull(line.c_str() + at + key.size() + 2, nullptr, 10);
  }
  return sum;
}

/// What the attacker captured during the honest run.
struct captures {
  std::map<std::string, std::vector<bytes>> result_batches;  // signer agent_id -> sealed ResultBatches
  std::vector<bytes> honest_work_requests;                   // sealed WorkRequests of the honest agents
  std::vector<bytes> honest_hellos;
  std::vector<bytes> mallory_task_batches;  // sealed by the aggregator, addressed to mallory
  std::vector<bytes> region_controls;       // sealed by the aggregator on P/control, in the order seen
};

/// The region under attack: two honest agents and mallory, each its own principal; the attacker's clients.
struct forgery_region {
  region r{3};
  protocol::topics topics = protocol::topics::for_region("test").value();
  protocol::static_trust_store trust{protocol::openssl_verifier_factory()};
  std::unique_ptr<attacker_client> eve_agg;      // the aggregator's broker account
  std::unique_ptr<attacker_client> eve_mallory;  // mallory's broker account
  std::unique_ptr<protocol::signer> mallory_key;
  std::unique_ptr<protocol::signer> unknown_key;
  std::string mallory;
  tally tried;
  std::size_t probes = 0;
  protocol::sha256_digest conflicting_result{};  // a different Result for a (task, attempt) mallory already returned

  forgery_region() {
    r.enroll(0, "honest-0");
    r.enroll(1, "honest-1");
    r.enroll(2, "mallory");
    for (auto& a : r.agents) a->set("log.level", agg::toml_string("info"));
    mallory = r.agent(2).agent_id();
    for (auto& a : r.agents) trust.trust_agent(protocol::public_key::from_pem(a->public_key_pem()).value());
    trust.trust_aggregator(protocol::public_key::from_pem(r.aggregator.public_key_pem()).value());
    mallory_key = signer_from_file(r.agent(2).state_dir() / "agent.key");
    unknown_key = fresh_signer();
    const auto& p = topics;
    eve_agg = std::make_unique<attacker_client>(r.broker.url(), "aggregator", "pw-aggregator", "eve-aggregator",
                                                std::vector<std::string>{p.results(), p.work(), p.all_hellos()});
    eve_mallory = std::make_unique<attacker_client>(
        r.broker.url(), mallory, r.agent(2).password(), "eve-mallory",
        std::vector<std::string>{p.tasks(mallory), p.receipts(mallory), p.region_control()});
  }

  /// The signer of a captured message, or "" when it does not open as `kind` (topic_agent: agent-bound kinds).
  std::string signer_of(const bytes& wire, message_kind kind, std::string_view topic_agent = {}) {
    protocol::open_options o;
    o.expected_kind = kind;
    o.prefix = topics.prefix();
    o.trust = &trust;
    o.topic_agent_id = topic_agent;
    auto env = protocol::open(wire, o);
    return env ? env->signer_agent_id : std::string();
  }

  captures collect() {
    captures c;
    for (const auto& w : eve_agg->seen(topics.results()))
      c.result_batches[signer_of(w, message_kind::result_batch)].push_back(w);
    for (const auto& w : eve_agg->seen(topics.work())) {
      const auto who = signer_of(w, message_kind::work_request);
      if (!who.empty() && who != mallory) c.honest_work_requests.push_back(w);
    }
    for (std::size_t i = 0; i < 2; ++i)
      for (const auto& w : eve_agg->seen(topics.hello(r.agent(i).agent_id())))
        if (!w.empty()) c.honest_hellos.push_back(w);
    c.mallory_task_batches = eve_mallory->seen(topics.tasks(mallory));
    c.region_controls = eve_mallory->seen(topics.region_control());
    return c;
  }

  /// Publishes one forged message on the aggregator's inbox through mallory's account and counts it.
  void to_aggregator(const std::string& kind, const std::string& topic, const bytes& wire) {
    eve_mallory->publish(topic, wire);
    ++tried.attempts[kind];
  }
  /// Publishes one forged message toward an agent through the aggregator's broker account and counts it.
  void to_agent(const std::string& kind, const std::string& topic, const bytes& wire, bool retained = false) {
    eve_agg->publish(topic, wire, retained);
    ++tried.attempts[kind];
  }

  /// A ResultBatch signed by `key` naming `agent_id`, holding `blobs`.
  bytes result_batch(const protocol::signer& key, const std::string& agent_id, std::vector<bytes> blobs,
                     std::string_view prefix = {}) {
    protocol::result_batch b;
    b.agent_id = agent_id;
    b.results = std::move(blobs);
    b.sent_at_ms = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
    return seal_or_fail(message_kind::result_batch, protocol::build(b), prefix.empty() ? topics.prefix() : prefix, key);
  }

  /// Receipt entries to mallory for `digest` that say accepted.
  std::size_t receipted_accepted(const protocol::sha256_digest& digest) {
    std::size_t n = 0;
    for (const auto& w : eve_mallory->seen(topics.receipts(mallory))) {
      protocol::open_options o;
      o.expected_kind = message_kind::receipt;
      o.prefix = topics.prefix();
      o.trust = &trust;
      o.topic_agent_id = mallory;
      auto env = protocol::open(w, o);
      if (!env) continue;
      for (const auto& e : protocol::receipt_view(env->body).decode().entries)
        if (e.accepted && e.result_digest == bytes(digest.begin(), digest.end())) ++n;
    }
    return n;
  }

  /// Waits until the aggregator handled everything sent before: a mallory-signed result for a task that does not
  /// exist is receipted (refused, unknown_task) after every earlier message of mallory's account (one connection,
  /// one inbound queue, handled in order). The probe is itself a forgery and counted.
  void aggregator_barrier() {
    const auto id = "forge-probe-" + std::to_string(++probes);
    protocol::task_result fake;
    fake.task_id = id;
    fake.job_id = "no-such-job";
    fake.attempt = 1;
    fake.agent_id = mallory;
    fake.task_digest.assign(32, 7);
    fake.status = protocol::result_status::ok;
    const auto digest = protocol::output_digest({});
    fake.output_digest.assign(digest.begin(), digest.end());
    to_aggregator("result for a task that does not exist", topics.results(),
                  result_batch(*mallory_key, mallory, {protocol::build(fake)}));
    const bool seen = eve_mallory->wait_seen(
        topics.receipts(mallory),
        [&](const std::vector<bytes>& receipts) {
          for (const auto& w : receipts) {
            protocol::open_options o;
            o.expected_kind = message_kind::receipt;
            o.prefix = topics.prefix();
            o.trust = &trust;
            o.topic_agent_id = mallory;
            auto env = protocol::open(w, o);
            if (!env) continue;
            for (const auto& e : protocol::receipt_view(env->body).decode().entries)
              if (e.task_id == id) return !e.accepted && e.reason == "unknown_task";
          }
          return false;
        },
        wait_limit);
    INFO(r.diagnostics());
    REQUIRE_MESSAGE(seen, "no receipt for " << id);
  }
};

// Phase 1: everything toward the aggregator, from mallory's account: captured batches and requests with bits
// flipped and cut short, results re-signed by mallory (someone else's, re-addressed, altered), a Task blob where a
// Result belongs, another region's seal, the unknown key, stale and misaddressed WorkRequests, forged hellos, and
// verbatim replays.
void attack_aggregator(forgery_region& f, const captures& c) {
  auto& p = f.topics;
  const auto honest0 = f.r.agent(0).agent_id();
  const auto honest1 = f.r.agent(1).agent_id();
  std::size_t salt = 0;
  for (const auto& who : {honest0, honest1, f.mallory}) {
    const auto& batches = c.result_batches.at(who);
    for (std::size_t i = 0; i < std::min<std::size_t>(2, batches.size()); ++i) {
      for (const auto& w : bit_flips(batches[i], 24, ++salt)) f.to_aggregator("ResultBatch bit flip", p.results(), w);
      for (const auto& w : truncations(batches[i])) f.to_aggregator("ResultBatch truncated", p.results(), w);
    }
  }
  for (std::size_t i = 0; i < std::min<std::size_t>(2, c.honest_work_requests.size()); ++i)
    for (const auto& w : bit_flips(c.honest_work_requests[i], 16, ++salt))
      f.to_aggregator("WorkRequest bit flip", p.work(), w);

  // Results re-signed by mallory's (enrolled) key.
  protocol::open_options o;
  o.expected_kind = message_kind::result_batch;
  o.prefix = p.prefix();
  o.trust = &f.trust;
  const auto& honest_batch = c.result_batches.at(honest0).front();
  const auto honest_env = protocol::open(honest_batch, o).value();
  const auto honest_blob = bytes(honest_env.blobs.at(0).begin(), honest_env.blobs.at(0).end());
  auto honest_result = protocol::result_view(honest_env.blobs.at(0)).decode();
  f.to_aggregator("someone else's Result in mallory's batch", p.results(),
                  f.result_batch(*f.mallory_key, f.mallory, {honest_blob}));
  auto readdressed = honest_result;
  readdressed.agent_id = f.mallory;
  f.to_aggregator("someone else's Result re-addressed to mallory", p.results(),
                  f.result_batch(*f.mallory_key, f.mallory, {protocol::build(readdressed)}));
  const auto& own_batch = c.result_batches.at(f.mallory).front();
  const auto own_env = protocol::open(own_batch, o).value();
  auto own = protocol::result_view(own_env.blobs.at(0)).decode();
  REQUIRE(!own.outputs.empty());
  REQUIRE(!own.outputs[0].data.empty());
  auto stale_digest = own;
  stale_digest.outputs[0].data[0] ^= 1;
  f.to_aggregator("altered outputs, old output_digest", p.results(),
                  f.result_batch(*f.mallory_key, f.mallory, {protocol::build(stale_digest)}));
  auto wrong_task = own;
  wrong_task.task_digest[0] ^= 1;
  f.to_aggregator("wrong task_digest", p.results(),
                  f.result_batch(*f.mallory_key, f.mallory, {protocol::build(wrong_task)}));
  auto other_attempt = own;
  other_attempt.attempt += 5;
  f.to_aggregator("result for an attempt never leased", p.results(),
                  f.result_batch(*f.mallory_key, f.mallory, {protocol::build(other_attempt)}));
  // A lie with a consistent digest for a unit that is already validated: at most a redelivery, never stored.
  auto relabelled = own;
  relabelled.outputs[0].data[0] ^= 1;
  std::vector<protocol::tensor_ref> refs;
  for (const auto& t : relabelled.outputs) refs.push_back(t.ref());
  const auto od = protocol::output_digest(refs);
  relabelled.output_digest.assign(od.begin(), od.end());
  const auto relabelled_blob = protocol::build(relabelled);
  f.conflicting_result = protocol::sha256_of(relabelled_blob);
  f.to_aggregator("altered outputs with their own digest after validation", p.results(),
                  f.result_batch(*f.mallory_key, f.mallory, {relabelled_blob}));
  // A Task blob (ECT1) where a Result (ECR1) belongs.
  REQUIRE(!c.mallory_task_batches.empty());
  protocol::open_options to;
  to.expected_kind = message_kind::task_batch;
  to.prefix = p.prefix();
  to.trust = &f.trust;
  to.topic_agent_id = f.mallory;
  const auto task_env = protocol::open(c.mallory_task_batches.front(), to).value();
  const bytes task_blob(task_env.blobs.at(0).begin(), task_env.blobs.at(0).end());
  f.to_aggregator("a Task blob presented as a Result", p.results(),
                  f.result_batch(*f.mallory_key, f.mallory, {task_blob}));
  // The TaskBatch itself (signed by the aggregator) presented as a ResultBatch, a WorkRequest and a hello.
  f.to_aggregator("a TaskBatch presented as a ResultBatch", p.results(), c.mallory_task_batches.front());
  f.to_aggregator("a TaskBatch presented as a WorkRequest", p.work(), c.mallory_task_batches.front());
  // Another region's seal: valid for ec/v1/other, not here.
  f.to_aggregator("ResultBatch sealed for another region", p.results(),
                  f.result_batch(*f.mallory_key, f.mallory, {protocol::build(own)}, "ec/v1/other"));
  // The unknown key: its own batch, and one naming mallory.
  auto unknown_own = own;
  unknown_own.agent_id = protocol::agent_id_of(f.unknown_key->key().id());
  f.to_aggregator("ResultBatch from an unknown key", p.results(),
                  f.result_batch(*f.unknown_key, unknown_own.agent_id, {protocol::build(unknown_own)}));
  f.to_aggregator("ResultBatch from an unknown key naming mallory", p.results(),
                  f.result_batch(*f.unknown_key, f.mallory, {protocol::build(own)}));
  // WorkRequests: naming an honest agent, from the unknown key, and hours old.
  protocol::work_request wr;
  wr.agent_id = honest0;
  wr.request_id = "forged-1";
  wr.free_slots = 4;
  wr.max_tasks = 4;
  wr.sent_at_ms = honest_result.finished_at_ms;
  f.to_aggregator("WorkRequest naming another agent", p.work(),
                  seal_or_fail(message_kind::work_request, protocol::build(wr), p.prefix(), *f.mallory_key));
  wr.agent_id = unknown_own.agent_id;
  f.to_aggregator("WorkRequest from an unknown key", p.work(),
                  seal_or_fail(message_kind::work_request, protocol::build(wr), p.prefix(), *f.unknown_key));
  wr.agent_id = f.mallory;
  wr.request_id = "stale-1";
  wr.sent_at_ms = honest_result.finished_at_ms - 3'600'000;
  f.to_aggregator("WorkRequest an hour old", p.work(),
                  seal_or_fail(message_kind::work_request, protocol::build(wr), p.prefix(), *f.mallory_key));
  // Hellos on mallory's hello topic (the only one its account may write): an honest agent's, one of them with a
  // bit flipped, and the unknown key's. Retained, like real hellos.
  REQUIRE(!c.honest_hellos.empty());
  f.to_aggregator("another agent's hello on mallory's topic", p.hello(f.mallory), c.honest_hellos.front());
  for (const auto& w : bit_flips(c.honest_hellos.front(), 4, ++salt))
    f.to_aggregator("hello bit flip", p.hello(f.mallory), w);
  protocol::agent_hello h;
  h.agent_id = unknown_own.agent_id;
  const auto spki = f.unknown_key->key().spki_der();
  h.public_key.assign(spki.begin(), spki.end());
  h.session_seq = 1;
  h.online = true;
  f.to_aggregator("hello of an unknown key", p.hello(f.mallory),
                  seal_or_fail(message_kind::agent_hello, protocol::build(h), p.prefix(), *f.unknown_key));
  // Verbatim replays of every captured batch and request: redeliveries at most, never stored or counted again.
  for (const auto& [who, batches] : c.result_batches)
    for (const auto& w : batches) f.to_aggregator("ResultBatch replayed", p.results(), w);
  for (const auto& w : c.honest_work_requests) f.to_aggregator("WorkRequest replayed", p.work(), w);
  f.aggregator_barrier();
}

}  // namespace

TEST_CASE("forged, tampered and replayed messages change nothing in the aggregator or the agents") {
  forgery_region f;
  auto& r = f.r;
  auto& p = f.topics;
  const std::size_t honest0 = 0, honest1 = 1, mallory = 2;
  r.aggregator.start();
  r.agent(honest0).start();
  r.agent(mallory).start();

  // An operator pause and resume: the attacker captures the aggregator's signed Controls (seq 1 pause, 2 run).
  REQUIRE(r.edgectl({"pause-all"}).rc == 0);
  auto applied = [&](const char* state) {
    for (const auto i : {honest0, mallory})
      if (lines_with(r.agent(i).log_text(), {"control applied", state, "region_wide"}) == 0) return false;
    return true;
  };
  bool ok = agg::poll_until([&] { return applied("state=1"); }, wait_limit);
  INFO(r.diagnostics());
  REQUIRE(ok);
  REQUIRE(r.edgectl({"resume-all"}).rc == 0);
  ok = agg::poll_until([&] { return applied("state=0"); }, wait_limit);
  REQUIRE(ok);

  // The honest runs the attacker watches, two agents (two principals) at a time so that each of the three returns
  // results: with quorum 2 both agents of a run get every unit. A short lease (max_runtime 2 s) lets captured tasks
  // expire soon.
  const auto job_a = r.submit(agg::mandelbrot_job(32, 32, 16, 32, false, 2, 2000));  // 4 units, 8 tasks
  REQUIRE(r.wait_validated(job_a, wait_limit));
  CHECK(r.agent(honest0).terminate() == 0);
  r.agent(honest1).start();
  const auto job_b = r.submit(agg::mandelbrot_job(32, 32, 16, 32, false, 2, 2000));
  REQUIRE(r.wait_validated(job_b, wait_limit));
  r.agent(honest0).start();
  const auto before = stored_state(r);
  const auto jobs_before = stored_state(r, job_a) + stored_state(r, job_b);
  // Captures: results of all three agents, honest requests and hellos, mallory's tasks, both Controls.
  ok = agg::poll_until(
      [&] {
        const auto c = f.collect();
        return c.result_batches.count(r.agent(honest0).agent_id()) &&
               c.result_batches.count(r.agent(honest1).agent_id()) && c.result_batches.count(f.mallory) &&
               !c.honest_work_requests.empty() && !c.honest_hellos.empty() && !c.mallory_task_batches.empty() &&
               c.region_controls.size() >= 2;
      },
      wait_limit);
  REQUIRE(ok);
  // Pauses each agent applied so far (the operator's one, or none for agent 1 which started after the resume).
  std::vector<std::size_t> pauses_before;
  for (std::size_t i = 0; i < 3; ++i)
    pauses_before.push_back(lines_with(r.agent(i).log_text(), {"control applied", "state=1"}));
  const auto c = f.collect();
  CHECK(c.result_batches.count("") == 0);    // every captured batch opened: the captures are genuine
  CHECK(r.agent(mallory).terminate() == 0);  // from now on mallory is only the attacker

  attack_aggregator(f, c);
  std::size_t accepted = changed_lines(before, stored_state(r));
  CHECK_MESSAGE(accepted == 0, "stored state changed:\n" << stored_state(r) << "\nwas:\n" << before);
  CHECK(r.aggregator.running());

  // Replays later, after the aggregator restarted (its caches and in-memory state are gone).
  const auto connects = lines_with(r.aggregator.log_text(), {"mqtt connected session_present="});
  CHECK(r.aggregator.terminate() == 0);
  r.aggregator.start();
  ok = agg::poll_until(
      [&] { return lines_with(r.aggregator.log_text(), {"mqtt connected session_present="}) > connects; }, wait_limit);
  REQUIRE(ok);
  for (const auto& [who, batches] : c.result_batches)
    for (const auto& w : batches) f.to_aggregator("ResultBatch replayed after an aggregator restart", p.results(), w);
  for (const auto& w : c.honest_work_requests)
    f.to_aggregator("WorkRequest replayed after an aggregator restart", p.work(), w);
  for (const auto& w : bit_flips(c.result_batches.at(f.mallory).front(), 8, 99))
    f.to_aggregator("ResultBatch bit flip after an aggregator restart", p.results(), w);
  f.aggregator_barrier();
  const auto after_restart = changed_lines(before, stored_state(r));
  CHECK_MESSAGE(after_restart == 0, "stored state changed:\n" << stored_state(r) << "\nwas:\n" << before);
  accepted += after_restart;

  // Toward the agents, with the aggregator's broker account (the attacker lacks its signing key). Mallory's agent
  // runs again, so its tasks are replayed after a restart; they are expired by now (waited for below).
  auto now_ms = [] {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
  };
  const auto mallory_restarted = now_ms();
  r.agent(2).start();
  std::uint64_t expires = 0;
  for (const auto& w : c.mallory_task_batches) {
    protocol::open_options o;
    o.expected_kind = message_kind::task_batch;
    o.prefix = p.prefix();
    o.trust = &f.trust;
    o.topic_agent_id = f.mallory;
    auto env = protocol::open(w, o);
    REQUIRE(env.ok());
    for (std::size_t i = 0; i < env->blobs.size(); ++i)
      expires = std::max(expires, protocol::task_batch_view(*env).task(i).expires_at_ms());
  }
  REQUIRE(agg::poll_until([&] { return now_ms() > expires; }, wait_limit));
  const bool statuses = agg::poll_until(
      [&] {
        for (std::size_t i = 0; i < 3; ++i)
          if (agent_refusals(r.agent(i)) < 0 || agent_status(r.agent(i), "connected") < 0) return false;
        // Mallory's file must be its new run's (counters restart at 0), written once it connected.
        return agent_status(r.agent(2), "updated_at_ms") > static_cast<long>(mallory_restarted) &&
               agg::read_file(r.agent(2).state_dir() / "status.txt").find("connected yes") != std::string::npos;
      },
      wait_limit);
  REQUIRE(statuses);
  std::vector<long> refusals_before;
  for (std::size_t i = 0; i < 3; ++i) refusals_before.push_back(agent_refusals(r.agent(i)));
  const auto honest0_id = r.agent(honest0).agent_id();
  std::vector<std::size_t> expected_refusals(3, 0);
  auto toward = [&](std::size_t agent, const std::string& kind, const std::string& topic, const bytes& wire) {
    f.to_agent(kind, topic, wire);
    ++expected_refusals[agent];
  };
  const auto& mallory_batch = c.mallory_task_batches.front();
  toward(0, "mallory's TaskBatch on another agent's topic", p.tasks(honest0_id), mallory_batch);
  for (const auto& w : bit_flips(mallory_batch, 16, 5)) toward(2, "TaskBatch bit flip", p.tasks(f.mallory), w);
  for (const auto& w : truncations(mallory_batch)) toward(2, "TaskBatch truncated", p.tasks(f.mallory), w);
  for (const auto& w : c.mallory_task_batches)
    toward(2, "expired TaskBatch replayed after an agent restart", p.tasks(f.mallory), w);
  toward(0, "a ResultBatch presented as a TaskBatch", p.tasks(honest0_id), c.result_batches.at(honest0_id).front());
  toward(0, "a Receipt-kind seal of an agent's key", p.receipts(honest0_id),
         seal_or_fail(message_kind::receipt, bytes(64, 0), p.prefix(), *f.mallory_key));
  protocol::control ctl;
  ctl.agent_id = honest0_id;
  ctl.seq = 1000;
  ctl.desired_state = protocol::agent_state::pause;
  toward(0, "Control signed by an agent's key", p.control(honest0_id),
         seal_or_fail(message_kind::control, protocol::build(ctl), p.prefix(), *f.mallory_key));
  toward(0, "Control sealed for another region", p.control(honest0_id),
         seal_or_fail(message_kind::control, protocol::build(ctl), "ec/v1/other", *f.unknown_key));
  // The old (seq 1) pause, valid and signed by the aggregator, replayed retained on P/control: stale for every
  // agent that applied seq 2 (not counted as a refusal: the agents count it as stale, which status.txt omits).
  const auto old_pause = c.region_controls.front();
  {
    protocol::open_options o;
    o.expected_kind = message_kind::control;
    o.prefix = p.prefix();
    o.trust = &f.trust;
    auto env = protocol::open(old_pause, o);
    REQUIRE(env.ok());
    const auto old = protocol::control_view(env->body).decode();
    REQUIRE(old.seq == 1);
    REQUIRE(old.desired_state == protocol::agent_state::pause);
  }
  f.to_agent("old region Control (lower seq) replayed", p.region_control(), old_pause, true);
  // Publishes the broker refuses (mallory's account may not write other agents' topics).
  const auto refused_before = f.eve_mallory->refused();
  f.eve_mallory->publish(p.tasks(honest0_id), mallory_batch);
  f.eve_mallory->publish(p.control(honest0_id), old_pause);
  f.tried.attempts["publish outside mallory's ACL"] += 2;
  CHECK(f.eve_mallory->refused() == refused_before + 2);

  const bool refused_all = agg::poll_until(
      [&] {
        for (std::size_t i = 0; i < 3; ++i)
          if (agent_refusals(r.agent(i)) < refusals_before[i] + static_cast<long>(expected_refusals[i])) return false;
        return true;
      },
      wait_limit);
  INFO(r.diagnostics());
  CHECK(refused_all);
  // Every pause an agent applied beyond the operator's one is an accepted forgery.
  auto extra_pauses = [&] {
    std::size_t n = 0;
    for (std::size_t i = 0; i < 3; ++i)
      n += lines_with(r.agent(i).log_text(), {"control applied", "state=1"}) - pauses_before[i];
    return n;
  };
  for (std::size_t i = 0; i < 3; ++i) CHECK_MESSAGE(r.agent(i).running(), "agent " << i << " exited");
  // The agents and the aggregator still work, and nothing they stored changed: a new job runs to the end.
  const auto after_job = r.submit(agg::mandelbrot_job(32, 16, 16, 32, false, 2, 2000));  // 2 units
  REQUIRE(r.wait_validated(after_job, wait_limit));
  accepted += extra_pauses();
  const auto job_after = changed_lines(stored_state(r, job_a) + stored_state(r, job_b), jobs_before);
  CHECK_MESSAGE(job_after == 0, "the first job's stored state changed");
  accepted += job_after;

  auto db = r.db();
  for (const auto& j : {job_a, job_b, after_job}) agg::check_against_reference(*db, j);
  db.reset();
  const auto figures = check_ledger_invariant(r, {job_a, job_b, after_job}, {.min_principals = 2});
  CHECK(r.aggregator.running());
  CHECK(r.aggregator.terminate() == 0);
  const auto log = r.aggregator.log_text();
  const auto rejected = aggregator_total(log, "messages_rejected");
  const auto refused = aggregator_total(log, "results_refused");
  CHECK(rejected > 0);
  CHECK(refused > 0);

  const std::size_t total = f.tried.total();
  // A different Result for an attempt already stored is not stored (the first is kept) and is receipted refused.
  const auto conflicting_accepted = f.receipted_accepted(f.conflicting_result);
  CHECK(conflicting_accepted == 0);
  print_figure(test_name, "conflicting re-sends receipted accepted=true", conflicting_accepted, "receipts");
  for (const auto& [kind, n] : f.tried.attempts) print_figure(test_name, "attempts: " + kind, n, "messages");
  print_figure(test_name, "aggregator: messages rejected (open or receiver checks)", rejected, "messages");
  print_figure(test_name, "aggregator: results refused (receipted accepted=false)", refused, "results");
  CHECK(accepted == 0);
  print_figure(test_name, "accepted forgeries", accepted, "of " + std::to_string(total));
  print_ledger_figures(test_name, figures);
}

}  // namespace ec::test::res
