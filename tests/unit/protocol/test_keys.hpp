// Keys, signers and trust stores shared by the protocol tests (generated once per test run).
#pragma once

#include "ec/protocol/envelope.hpp"
#include "ec/protocol/mbedtls_signer.hpp"
#include "ec/protocol/messages.hpp"
#include "ec/protocol/openssl_signer.hpp"

namespace ec::test {

/// An aggregator's signer (trusted for TaskBatch, Receipt, Control by agent_trust()).
const protocol::signer& aggregator_signer();
/// An agent's signer (trusted for WorkRequest, ResultBatch by aggregator_trust()).
const protocol::signer& agent_signer();
/// A signer nobody trusts.
const protocol::signer& stranger_signer();
/// agent_id of agent_signer().
std::string agent_id();

/// What an agent trusts: the aggregator key.
const protocol::trust_store& agent_trust();
/// What an aggregator trusts: the agent key (enrolled).
const protocol::trust_store& aggregator_trust();

inline constexpr std::string_view prefix = "ec/v1/test-region";

/// A representative message of each kind, addressed to agent_id(), with tensors, params and devices set.
protocol::task sample_task(std::string task_id);
protocol::task_result sample_result(std::string task_id);
protocol::agent_hello sample_hello();
protocol::work_request sample_work_request();
protocol::task_batch sample_task_batch(std::size_t tasks);
protocol::result_batch sample_result_batch(std::size_t results);
protocol::receipt sample_receipt();
protocol::control sample_control();

/// Options to open `kind` as its receiver would (agent side for agent-bound kinds, else aggregator side).
protocol::open_options receiver_options(protocol::message_kind kind);
/// The signer that legitimately sends `kind`.
const protocol::signer& sender_of(protocol::message_kind kind);
/// The body of the sample message of `kind`.
protocol::bytes sample_body(protocol::message_kind kind);

}  // namespace ec::test
