// Enrollment modes, the allowlist file, tokens, and the storage-backed trust store of agent keys.
#include "ec/aggregator/enrollment.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "ec/protocol/sha256.hpp"

namespace ec::aggregator {
namespace {

std::uint64_t steady_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

key_admission admission_of(const protocol::public_key& key, const std::string& principal) {
  key_admission a;
  a.public_key_der = key.spki_der();
  a.id = key.id();
  a.agent_id = protocol::agent_id_of(key.id());
  a.principal = principal;
  return a;
}

}  // namespace

sha256_digest token_hash(std::string_view token) { return protocol::sha256_of(protocol::as_bytes(token)); }

result<std::string> generate_token() {
  std::ifstream in("/dev/urandom", std::ios::binary);
  std::uint8_t raw[32];
  if (!in.read(reinterpret_cast<char*>(raw), sizeof raw))
    return fail(error_code::crypto_error, "cannot read /dev/urandom for a token");
  return "ect1-" + protocol::to_hex(raw);
}

std::string open_principal(const std::string& agent_id) { return agent_id; }

result<std::vector<allowlist_entry>> load_allowlist(const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail(error_code::io_error, "cannot read allowlist " + path);
  const auto dir = std::filesystem::absolute(path).parent_path();
  std::vector<allowlist_entry> out;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (const auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::string principal, file, extra;
    if (!(words >> principal)) continue;
    const std::string at = path + ":" + std::to_string(n) + ": ";
    if (!(words >> file) || (words >> extra))
      return fail(error_code::invalid_argument, at + "expected \"<principal> <public key PEM file>\"");
    if (!is_valid_principal_name(principal))
      return fail(error_code::invalid_argument, at + "principal '" + principal + "' is not 1..64 of [A-Za-z0-9._@:-]");
    auto p = std::filesystem::path(file);
    if (p.is_relative()) p = dir / p;
    auto key = protocol::public_key::load(p);
    if (!key) return fail(key.code(), at + key.err().message);
    out.push_back({principal, std::move(*key)});
  }
  return out;
}

enrollment_gate::enrollment_gate(storage& db, enrollment_mode mode) : db_(db), mode_(mode) {}

result<void> enrollment_gate::admit_allowlist(const std::vector<allowlist_entry>& entries, std::uint64_t now_ms) {
  std::vector<key_admission> keys;
  for (const auto& e : entries) {
    if (auto r = db_.ensure_principal(e.principal, principal_kind::allowlist, now_ms); !r) return r;
    keys.push_back(admission_of(e.key, e.principal));
  }
  if (keys.empty()) return {};
  return db_.admit_keys(keys, principal_kind::allowlist, now_ms);
}

result<agent_key_row> enrollment_gate::admit(const protocol::public_key& key, std::string_view enrollment_token,
                                             std::uint64_t now_ms) {
  auto known = db_.find_agent_key(key.id());
  if (!known) return known.err();
  if (known->has_value()) return std::move(**known);
  const auto agent_id = protocol::agent_id_of(key.id());
  switch (mode_) {
    case enrollment_mode::allowlist:
      return fail(error_code::untrusted_key, "agent " + agent_id + " is not on the allowlist");
    case enrollment_mode::token: {
      if (enrollment_token.empty())
        return fail(error_code::untrusted_key, "agent " + agent_id + " is not enrolled and its hello has no token");
      return db_.enroll_with_token(token_hash(enrollment_token), admission_of(key, {}), now_ms);
    }
    case enrollment_mode::open: {
      const key_admission a = admission_of(key, open_principal(agent_id));
      if (auto r = db_.admit_keys(std::span(&a, 1), principal_kind::open, now_ms); !r) return r.err();
      auto row = db_.find_agent_key(key.id());
      if (!row) return row.err();
      if (!row->has_value()) return fail(error_code::io_error, "agent " + agent_id + " vanished after admission");
      return std::move(**row);
    }
  }
  return fail(error_code::untrusted_key, "unknown enrollment mode");
}

enrolled_keys::enrolled_keys(storage& db, protocol::verifier_factory factory) : db_(db), factory_(std::move(factory)) {}

void enrolled_keys::remember(const protocol::public_key& key) {
  std::lock_guard lk(mu_);
  misses_.erase(key.id());
  if (known_.count(key.id()) == 0) known_.emplace(key.id(), factory_(key));
}

const protocol::verifier* enrolled_keys::find(const key_id& id, protocol::message_kind kind) const {
  // Agents sign WorkRequests and ResultBatches; nothing else from them is taken on this store.
  if (kind != protocol::message_kind::work_request && kind != protocol::message_kind::result_batch) return nullptr;
  std::lock_guard lk(mu_);
  if (const auto it = known_.find(id); it != known_.end()) return it->second.get();
  const auto now = steady_ms();
  if (const auto m = misses_.find(id); m != misses_.end() && now - m->second < 1000) return nullptr;
  auto row = db_.find_agent_key(id);
  if (!row || !row->has_value()) {
    if (misses_.size() > 10000) misses_.clear();  // forged ids must not grow memory without bound
    misses_[id] = now;
    return nullptr;
  }
  auto key = protocol::public_key::from_spki_der((*row)->public_key_der, true);
  if (!key || key->id() != id) return nullptr;  // a damaged row: refuse rather than trust the wrong key
  misses_.erase(id);
  return known_.emplace(id, factory_(*key)).first->second.get();
}

std::unique_ptr<protocol::verifier> enrolled_keys::make_verifier(const protocol::public_key& key) const {
  return factory_(key);
}

}  // namespace ec::aggregator
