// Adaptive trust: per-key streaks, 1/n sampling of trusted keys, ringers from the kernels' known answers.
#include "ec/aggregator/adaptive_trust.hpp"

#include <memory>
#include <random>

#include "ec/aggregator/task_template.hpp"
#include "ec/kernels/catalog.hpp"
#include "ec/protocol/digests.hpp"
#include "ec/protocol/tolerance.hpp"

namespace ec::aggregator {

random_source seeded_random(std::uint64_t seed) {
  auto rng = std::make_shared<std::mt19937_64>(seed);
  return [rng] { return (*rng)(); };
}

adaptive_trust::adaptive_trust(trust_config config, random_source random)
    : config_(config), random_(std::move(random)) {}

bool adaptive_trust::is_trusted(const std::string& agent_id) const {
  const auto it = agents_.find(agent_id);
  return it != agents_.end() && it->second.trusted;
}

bool adaptive_trust::needs_replication(const std::string& agent_id) {
  if (!is_trusted(agent_id)) return true;
  if (config_.replicate_one_in <= 1) return true;
  return random_() % config_.replicate_one_in == 0;
}

bool adaptive_trust::next_is_ringer() {
  if (config_.ringer_rate <= 0) return false;
  if (config_.ringer_rate >= 1) return true;
  // 53 random bits as a double in [0, 1).
  const double u = static_cast<double>(random_() >> 11) * 0x1.0p-53;
  return u < config_.ringer_rate;
}

void adaptive_trust::record_valid(const std::string& agent_id) {
  auto& s = agents_[agent_id];
  ++s.consecutive_valid;
  if (!s.trusted && s.consecutive_valid >= config_.trust_after) {
    s.trusted = true;
    s.unreplicated.clear();
  }
}

void adaptive_trust::record_unreplicated(const std::string& agent_id, const std::string& unit_id) {
  agents_[agent_id].unreplicated.push_back(unit_id);
}

trust_reset adaptive_trust::record_invalid(const std::string& agent_id) {
  auto& s = agents_[agent_id];
  trust_reset r;
  r.was_trusted = s.trusted;
  r.lost_streak = s.consecutive_valid;
  r.reissue_units = std::move(s.unreplicated);
  s.unreplicated.clear();
  s.trusted = false;
  s.consecutive_valid = 0;
  ++s.invalid_total;
  return r;
}

agent_trust_state adaptive_trust::state(const std::string& agent_id) const {
  const auto it = agents_.find(agent_id);
  return it == agents_.end() ? agent_trust_state{} : it->second;
}

void adaptive_trust::restore(const std::string& agent_id, agent_trust_state state) {
  agents_[agent_id] = std::move(state);
}

result<ringer> make_ringer(const kernels::kernel_spec& spec, std::uint32_t max_runtime_ms) {
  if (!spec.known_answer)
    return fail(error_code::unsupported, "kernel '" + std::string(spec.name) + "' has no known answer");
  auto sample = spec.known_answer();
  if (sample.expected.empty())
    return fail(error_code::unsupported, "kernel '" + std::string(spec.name) + "' has no expected known answer");
  std::vector<protocol::tensor_ref> refs;
  for (const auto& t : sample.inputs) refs.push_back(t.ref());
  auto call = spec.bind(sample.params, refs);
  if (!call) return fail(call.code(), "known answer of '" + std::string(spec.name) + "': " + call.err().message);
  ringer r;
  auto& t = r.task;
  t.kernel = std::string(spec.name);
  t.kernel_version = spec.version;
  t.params = std::move(sample.params);
  t.inputs = std::move(sample.inputs);
  std::uint64_t memory = 0;
  for (const auto& in : t.inputs) memory += in.data.size();
  for (const auto& o : call->outputs) {
    t.outputs.push_back({o.name, o.type, o.shape, {}});
    memory += o.bytes;
  }
  t.validation = spec.validation;
  t.rtol = spec.rtol;
  t.atol = spec.atol;
  t.max_runtime_ms = max_runtime_ms;
  t.min_memory_bytes = memory;
  r.expected = std::move(sample.expected);
  return r;
}

result<ringer> make_reference_ringer(const protocol::task& templ) {
  const auto* spec = kernels::find_kernel(templ.kernel);
  if (spec == nullptr) return fail(error_code::unsupported, "no kernel '" + templ.kernel + "' for a ringer");
  std::vector<protocol::tensor_ref> refs;
  for (const auto& t : templ.inputs) refs.push_back(t.ref());
  auto call = spec->bind(templ.params, refs);
  if (!call) return fail(call.code(), "ringer from '" + templ.kernel + "': " + call.err().message);
  ringer r;
  r.task = templ;
  r.expected = kernels::run_reference(*call);
  return r;
}

protocol::bytes encode_ringer_answer(const ringer& r) {
  protocol::task_result a;
  a.task_id = "ringer";
  a.agent_id = "aggregator";
  a.task_digest.assign(32, 0);
  a.status = protocol::result_status::ok;
  a.outputs = r.expected;
  std::vector<protocol::tensor_ref> refs;
  for (const auto& t : a.outputs) refs.push_back(t.ref());
  const auto digest = protocol::output_digest(refs);
  a.output_digest.assign(digest.begin(), digest.end());
  return protocol::build(a);
}

result<ringer> decode_ringer(protocol::byte_span payload, protocol::byte_span answer) {
  auto templ = decode_task_template(payload);
  if (!templ) return templ.err();
  auto expected = decode_stored_result(answer);
  if (!expected) return expected.err();
  ringer r;
  r.task = std::move(*templ);
  r.expected = std::move(expected->outputs);
  return r;
}

bool ringer_answer_correct(const ringer& r, const std::vector<protocol::tensor>& outputs) {
  if (outputs.size() != r.expected.size()) return false;
  const bool exact = r.task.validation == protocol::validation_mode::exact;
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    if (exact ? !(outputs[i] == r.expected[i])
              : protocol::compare_tensors(outputs[i].ref(), r.expected[i].ref(), r.task.rtol, r.task.atol).has_value())
      return false;
  }
  return true;
}

}  // namespace ec::aggregator
