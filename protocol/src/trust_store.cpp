#include "ec/protocol/trust_store.hpp"

namespace ec::protocol {
namespace {
constexpr std::uint32_t bit(message_kind k) { return 1U << static_cast<unsigned>(k); }
// Envelope kinds, plus the code kind of custom-kernel signatures (a code key signs no envelope, and vice versa).
constexpr bool is_trustable(message_kind k) { return is_envelope_kind(k) || k == message_kind::code; }
}  // namespace

static_trust_store::static_trust_store(verifier_factory factory) : factory_(std::move(factory)) {}

void static_trust_store::trust(const public_key& key, std::initializer_list<message_kind> kinds) {
  auto& e = keys_[key.id()];
  if (!e.checker) e.checker = factory_(key);
  for (auto k : kinds)
    if (is_trustable(k)) e.kinds_mask |= bit(k);
}

void static_trust_store::trust_aggregator(const public_key& key) {
  trust(key, {message_kind::task_batch, message_kind::receipt, message_kind::control});
}

void static_trust_store::trust_agent(const public_key& key) {
  trust(key, {message_kind::work_request, message_kind::result_batch});
}

const verifier* static_trust_store::find(const key_id& id, message_kind kind) const {
  auto it = keys_.find(id);
  if (it == keys_.end() || !is_trustable(kind) || (it->second.kinds_mask & bit(kind)) == 0) return nullptr;
  return it->second.checker.get();
}

std::unique_ptr<verifier> static_trust_store::make_verifier(const public_key& key) const { return factory_(key); }

}  // namespace ec::protocol
