// edgectl agents, enroll, pause-all / resume-all and ledger verify, and opening the region database.
#include <chrono>
#include <cstdio>

#include "ec/aggregator/enrollment.hpp"
#include "ec/aggregator/hello_devices.hpp"
#include "ec/aggregator/ledger.hpp"
#include "ec/protocol/keys.hpp"
#include "ec/protocol/openssl_signer.hpp"
#include "edgectl/edgectl_commands.hpp"

namespace ec::aggregator::edgectl {

std::uint64_t wall_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

std::unique_ptr<sqlite_storage> open_database(const context& ctx) {
  if (ctx.database.empty()) {
    std::fprintf(stderr, "edgectl: no database: pass --db PATH or --config aggregator.toml\n");
    return nullptr;
  }
  sqlite_options o;
  o.path = ctx.database;
  o.create = ctx.create;
  auto db = sqlite_storage::open(o);
  if (!db) {
    std::fprintf(stderr, "edgectl: database %s: %s\n", ctx.database.c_str(), db.err().what().c_str());
    return nullptr;
  }
  return std::move(db).value();
}

namespace {

// The resource groups the agent's last hello named out of service (docs/isolation.md).
std::string out_of_service_column(sqlite_storage& db, const std::string& agent_id) {
  auto body = db.last_hello(agent_id);
  if (!body) return "? (" + body.err().what() + ")";
  if (!*body) return "none";
  auto groups = stored_out_of_service(**body);
  return groups ? group_list(*groups) : "? (" + groups.err().what() + ")";
}

}  // namespace

int agents(const context& ctx) {
  auto db = open_database(ctx);
  if (!db) return 1;
  auto list = db->list_agents();
  if (!list) {
    std::fprintf(stderr, "edgectl: %s\n", list.err().what().c_str());
    return 1;
  }
  const auto window_ms = std::uint64_t{10} * 60 * 1000;
  const auto now = wall_ms();
  auto stats = db->agent_throughput(now > window_ms ? now - window_ms : 0);
  std::printf("%-32s  %-24s  %-7s  %-9s  %6s  %13s  %s\n", "agent", "principal", "state", "trust", "streak",
              "results/10min", "out_of_service");
  for (const auto& a : *list) {
    std::uint64_t recent = 0;
    if (stats)
      for (const auto& s : *stats)
        if (s.agent_id == a.agent_id) recent = s.results_since;
    std::printf("%-32s  %-24s  %-7s  %-9s  %6u  %13llu  %s\n", a.agent_id.c_str(), a.principal.c_str(),
                a.online ? "online" : "offline", a.trusted ? "trusted" : "untrusted", a.trust_streak,
                static_cast<unsigned long long>(recent), out_of_service_column(*db, a.agent_id).c_str());
  }
  return 0;
}

int enroll(const context& ctx, const std::string& principal, std::uint32_t key_limit, std::uint32_t expires_days) {
  if (!is_valid_principal_name(principal)) {
    std::fprintf(stderr, "edgectl: principal '%s' must be 1..64 characters of [A-Za-z0-9._@:-]\n", principal.c_str());
    return 1;
  }
  auto db = open_database(ctx);
  if (!db) return 1;
  auto token = generate_token();
  if (!token) {
    std::fprintf(stderr, "edgectl: %s\n", token.err().what().c_str());
    return 1;
  }
  const auto now = wall_ms();
  token_row t;
  t.token_hash = token_hash(*token);
  t.principal = principal;
  t.key_limit = key_limit == 0 ? 1 : key_limit;
  t.created_at_ms = now;
  t.expires_at_ms = expires_days == 0 ? 0 : now + std::uint64_t{expires_days} * 86400 * 1000;
  if (auto r = db->add_token(t); !r) {
    std::fprintf(stderr, "edgectl: %s\n", r.err().what().c_str());
    return 1;
  }
  // Only the hash is stored: this is the one time the token is shown.
  std::fprintf(stderr,
               "token for principal %s (up to %u keys%s); it is shown once, put it in the agents' "
               "agent.enrollment_token:\n",
               principal.c_str(), t.key_limit, expires_days == 0 ? "" : ", expires");
  std::printf("%s\n", token->c_str());
  return 0;
}

int region_control(const context& ctx, std::uint8_t desired_state) {
  auto db = open_database(ctx);
  if (!db) return 1;
  auto seq = db->request_region_control(desired_state, wall_ms());
  if (!seq) {
    std::fprintf(stderr, "edgectl: %s\n", seq.err().what().c_str());
    return 1;
  }
  std::printf("region control seq %llu (%s) requested; the running aggregator signs and publishes it on P/control\n",
              static_cast<unsigned long long>(*seq), desired_state == 1 ? "pause" : "run");
  return 0;
}

int ledger_verify(const context& ctx) {
  auto db = open_database(ctx);
  if (!db) return 1;
  checkpoint_trust trust(protocol::openssl_verifier_factory());
  for (const auto& f : ctx.key_files) {
    auto key = protocol::public_key::load(f);
    if (!key) {
      std::fprintf(stderr, "edgectl: key %s: %s\n", f.c_str(), key.err().what().c_str());
      return 1;
    }
    trust.trust(*key);
  }
  if (ctx.key_files.empty())
    std::fprintf(stderr, "edgectl: no aggregator key given (--key or --config): checkpoints cannot verify\n");
  auto v = verify_ledger(*db, trust);
  if (!v) {
    std::fprintf(stderr, "edgectl: %s\n", v.err().what().c_str());
    return 1;
  }
  if (v->ok()) {
    std::printf("ledger ok: %llu entries, %llu checkpoints, signed through entry %llu\n",
                static_cast<unsigned long long>(v->entries), static_cast<unsigned long long>(v->checkpoints),
                static_cast<unsigned long long>(v->checkpointed_through));
    return 0;
  }
  std::printf("ledger BAD: first bad entry %llu: %s\n", static_cast<unsigned long long>(v->first_problem->seq),
              v->first_problem->reason.c_str());
  return 3;
}

}  // namespace ec::aggregator::edgectl
