// Which keys may sign which message kinds (receiver check 4).
#pragma once

#include <map>
#include <memory>
#include <vector>

#include "ec/protocol/message_kind.hpp"
#include "ec/protocol/signer.hpp"

namespace ec::protocol {

/// Looks up the verifier of a key trusted for a kind; makes verifiers for self-certifying hellos.
class trust_store {
public:
  virtual ~trust_store() = default;
  /// The verifier of key `id` if it is trusted to sign `kind`, else null.
  [[nodiscard]] virtual const verifier* find(const key_id& id, message_kind kind) const = 0;
  /// Makes a verifier for a key carried in an AgentHello (which certifies itself).
  [[nodiscard]] virtual std::unique_ptr<verifier> make_verifier(const public_key& key) const = 0;
};

/// A trust store held in memory: keys from the configuration, each trusted for a set of kinds.
class static_trust_store final : public trust_store {
public:
  explicit static_trust_store(verifier_factory factory);

  /// Trusts `key` to sign the given kinds (adding kinds to a key already present).
  void trust(const public_key& key, std::initializer_list<message_kind> kinds);
  /// Trusts an aggregator key: TaskBatch, Receipt and Control (trust.aggregator_keys).
  void trust_aggregator(const public_key& key);
  /// Trusts an agent key: WorkRequest and ResultBatch (an enrolled agent, aggregator side).
  void trust_agent(const public_key& key);

  [[nodiscard]] const verifier* find(const key_id& id, message_kind kind) const override;
  [[nodiscard]] std::unique_ptr<verifier> make_verifier(const public_key& key) const override;

private:
  struct entry {
    std::unique_ptr<protocol::verifier> checker;
    std::uint32_t kinds_mask = 0;
  };
  verifier_factory factory_;
  std::map<key_id, entry> keys_;
};

}  // namespace ec::protocol
