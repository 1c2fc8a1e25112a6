// Shared by the fuzz targets: opens a payload as one kind, then reads every field the way a receiver would and
// checks the properties receivers rely on (verified tensors are consistent, decode() and build() agree).
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string_view>
#include <vector>

#include "ec/protocol/digests.hpp"
#include "ec/protocol/envelope.hpp"
#include "ec/protocol/keys.hpp"
#include "ec/protocol/mbedtls_signer.hpp"
#include "ec/protocol/message_views.hpp"
#include "ec/protocol/messages.hpp"

// A broken property aborts, which libFuzzer reports as a crash with the input that caused it.
#define EC_FUZZ_CHECK(cond)                                       \
  do {                                                            \
    if (!(cond)) ::ec::fuzz::violated(#cond, __FILE__, __LINE__); \
  } while (0)

namespace ec::fuzz {

namespace p = ec::protocol;

/// Region prefix of every seed and fuzz input.
inline constexpr std::string_view prefix = "ec/v1/fuzz";
/// The agent_id of the topic for agent-bound seeds: the seeds name it, so open() passes check 6 on them.
inline constexpr std::string_view topic_agent_id = "00112233445566778899aabbccddeeff";

[[noreturn]] inline void violated(const char* what, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: fuzz property violated: %s\n", file, line, what);
  std::abort();
}

// Every byte a view hands out is folded into this volatile, so no read can be optimised away and ASan sees each.
inline volatile std::uint64_t sink = 0;
inline void touch(p::byte_span s) {
  std::uint64_t h = s.size();
  for (auto b : s) h = h * 31 + b;
  sink = sink + h;
}
inline void touch(std::string_view s) { touch(p::as_bytes(s)); }
inline void touch(std::uint64_t v) { sink = sink + v; }

// Check 5 promises dtype x shape == data length for data-carrying tensors and no data for declared outputs.
inline void walk(const std::vector<p::tensor_ref>& tensors, bool declared_outputs) {
  for (const auto& t : tensors) {
    touch(t.name);
    for (auto d : t.shape) touch(d);
    touch(t.data);
    const auto size = p::tensor_byte_size(t.type, t.shape);
    EC_FUZZ_CHECK(size.has_value());
    EC_FUZZ_CHECK(declared_outputs ? t.data.empty() : *size == t.data.size());
  }
}

// decode() then build() must give a body that passes verify_body() and is a fixed point of another round
// (bytes, not values: NaN params and -0.0 defaults make value equality the wrong test).
template <typename Message, typename Decode>
void check_rebuild(p::message_kind kind, const Message& decoded, Decode decode_again) {
  const p::bytes rebuilt = p::build(decoded);
  p::opened_envelope again;
  again.kind = kind;
  again.body = rebuilt;
  auto verified = p::verify_body(kind, again.body, again.blobs);
  if (!verified) std::fprintf(stderr, "rebuilt body rejected: %s\n", verified.err().what().c_str());
  EC_FUZZ_CHECK(verified.ok());
  EC_FUZZ_CHECK(p::build(decode_again(again)) == rebuilt);
}

inline void walk_task(const p::task_view& t) {
  touch(t.blob());
  touch(t.digest());
  touch(t.task_id());
  touch(t.job_id());
  touch(t.attempt());
  touch(t.agent_id());
  touch(t.kernel());
  EC_FUZZ_CHECK(t.is_custom() == (t.kernel() == "custom"));
  walk(t.inputs(), false);
  walk(t.outputs(), true);
  EC_FUZZ_CHECK(t.validation() <= p::validation_mode::tolerance);
  touch(t.issued_at_ms() ^ t.expires_at_ms() ^ t.max_runtime_ms());
  const p::task decoded = t.decode();
  EC_FUZZ_CHECK(decoded.task_id == t.task_id() && decoded.kernel == t.kernel());
  // A Task is only ever verified inside a batch: wrap the rebuilt blob in one to check it.
  const p::task_batch wrapper{std::string(topic_agent_id), "", {p::build(decoded)}, 0, 0};
  check_rebuild(p::message_kind::task_batch, wrapper, [](const p::opened_envelope& e) {
    return p::task_batch{std::string(topic_agent_id), "", {p::build(p::task_view(e.blobs.at(0)).decode())}, 0, 0};
  });
}

inline void walk_result(const p::result_view& r) {
  touch(r.blob());
  touch(r.digest());
  touch(r.task_id());
  touch(r.attempt());
  touch(r.agent_id());
  EC_FUZZ_CHECK(r.task_digest().size() == 32);
  EC_FUZZ_CHECK(r.status() <= p::result_status::expired);
  const auto outputs = r.outputs();
  walk(outputs, false);
  touch(p::output_digest(outputs));  // what the aggregator recomputes for every result
  EC_FUZZ_CHECK(r.output_digest().empty() || r.output_digest().size() == 32);
  const p::task_result decoded = r.decode();
  EC_FUZZ_CHECK(decoded.task_id == r.task_id() && decoded.outputs.size() == outputs.size());
  const p::result_batch wrapper{decoded.agent_id, {p::build(decoded)}, 0};
  check_rebuild(p::message_kind::result_batch, wrapper, [&](const p::opened_envelope& e) {
    return p::result_batch{decoded.agent_id, {p::build(p::result_view(e.blobs.at(0)).decode())}, 0};
  });
}

/// Reads every accessor of an opened message of any kind, decodes it, and checks the rebuild properties.
inline void walk(const p::opened_envelope& env) {
  touch(env.signer);
  touch(env.signer_agent_id);
  switch (env.kind) {
    case p::message_kind::agent_hello: {
      const p::agent_hello_view v(env.body);
      touch(v.agent_id());
      touch(v.public_key());
      touch(v.enrollment_token());
      touch(v.session_seq() + (v.online() ? 1 : 0));
      EC_FUZZ_CHECK(v.state() <= p::agent_state::drain);
      check_rebuild(env.kind, v.decode(),
                    [](const p::opened_envelope& e) { return p::agent_hello_view(e.body).decode(); });
      break;
    }
    case p::message_kind::work_request: {
      const p::work_request_view v(env.body);
      touch(v.agent_id());
      touch(v.request_id());
      touch(v.free_slots() + v.max_tasks() + v.max_batch_bytes() + v.sent_at_ms());
      check_rebuild(env.kind, v.decode(),
                    [](const p::opened_envelope& e) { return p::work_request_view(e.body).decode(); });
      break;
    }
    case p::message_kind::task_batch: {
      const p::task_batch_view v(env);
      touch(v.agent_id());
      touch(v.in_reply_to());
      touch(v.retry_after_ms() + v.sent_at_ms());
      EC_FUZZ_CHECK(v.size() == env.blobs.size() && v.size() <= p::max_blobs_per_batch);
      for (std::size_t i = 0; i < v.size(); ++i) walk_task(v.task(i));
      check_rebuild(env.kind, v.decode(), [](const p::opened_envelope& e) { return p::task_batch_view(e).decode(); });
      break;
    }
    case p::message_kind::result_batch: {
      const p::result_batch_view v(env);
      touch(v.agent_id());
      touch(v.sent_at_ms());
      EC_FUZZ_CHECK(v.size() == env.blobs.size() && v.size() <= p::max_blobs_per_batch);
      for (std::size_t i = 0; i < v.size(); ++i) walk_result(v.result(i));
      check_rebuild(env.kind, v.decode(), [](const p::opened_envelope& e) { return p::result_batch_view(e).decode(); });
      break;
    }
    case p::message_kind::receipt: {
      const p::receipt_view v(env.body);
      touch(v.agent_id());
      touch(v.sent_at_ms());
      const p::receipt decoded = v.decode();
      for (const auto& e : decoded.entries) EC_FUZZ_CHECK(e.result_digest.empty() || e.result_digest.size() == 32);
      check_rebuild(env.kind, decoded, [](const p::opened_envelope& e) { return p::receipt_view(e.body).decode(); });
      break;
    }
    case p::message_kind::control: {
      const p::control_view v(env.body);
      touch(v.agent_id());
      touch(v.seq());
      EC_FUZZ_CHECK(v.desired_state() <= p::agent_state::drain);
      check_rebuild(env.kind, v.decode(), [](const p::opened_envelope& e) { return p::control_view(e.body).decode(); });
      break;
    }
    default:
      violated("open() returned a kind that has no body format", __FILE__, __LINE__);
  }
}

/// A trust store holding one key generated once. The bypassing build never consults it, but open() needs one.
inline const p::static_trust_store& one_key_trust() {
  static const auto store = [] {
    auto key = p::private_key::generate();
    EC_FUZZ_CHECK(key.ok());
    auto s = std::make_unique<p::static_trust_store>(p::mbedtls_verifier_factory());
    s->trust_aggregator(key->public_half());
    s->trust_agent(key->public_half());
    return s;
  }();
  return *store;
}

/// The body of each bypassing fuzzer: open `data` as `kind` (signatures not checked) and walk what passed.
inline int open_and_walk(p::message_kind kind, const std::uint8_t* data, std::size_t size) {
  p::open_options options;
  options.expected_kind = kind;
  options.prefix = prefix;
  options.trust = &one_key_trust();
  options.topic_agent_id = topic_agent_id;
  auto opened = p::open(p::byte_span(data, size), options);
  if (opened) walk(*opened);
  return 0;
}

}  // namespace ec::fuzz
