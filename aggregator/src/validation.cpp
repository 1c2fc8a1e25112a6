// Quorum validation. A principal whose own results fall into two different groups vouches for neither: its keys
// disagree with each other, so counting it twice would let one principal tip two groups at once.
#include "ec/aggregator/validation.hpp"

#include <algorithm>

#include "ec/protocol/tolerance.hpp"

namespace ec::aggregator {
namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

void add_unique(std::vector<std::string>& v, const std::string& s) {
  if (!contains(v, s)) v.push_back(s);
}

}  // namespace

bool results_agree(const replica_result& a, const replica_result& b, const validation_policy& policy) {
  if (!a.output_digest.empty() && a.output_digest == b.output_digest) return true;
  if (policy.mode == protocol::validation_mode::exact) return false;
  if (a.outputs.size() != b.outputs.size() || a.outputs.empty()) return false;
  for (std::size_t i = 0; i < a.outputs.size(); ++i)
    if (protocol::compare_tensors(a.outputs[i].ref(), b.outputs[i].ref(), policy.rtol, policy.atol)) return false;
  return true;
}

std::vector<agreement_group> group_results(std::span<const replica_result> replicas, const validation_policy& policy) {
  std::vector<agreement_group> groups;
  for (std::size_t i = 0; i < replicas.size(); ++i) {
    if (replicas[i].status != protocol::result_status::ok) continue;
    auto g = std::find_if(groups.begin(), groups.end(), [&](const agreement_group& grp) {
      return results_agree(replicas[i], replicas[grp.representative], policy);
    });
    if (g == groups.end()) {
      groups.push_back({i, {}, {}});
      g = groups.end() - 1;
    }
    g->members.push_back(i);
    add_unique(g->principals, replicas[i].principal);
  }
  return groups;
}

validation_outcome validate_unit(std::span<const replica_result> replicas, std::uint32_t in_flight,
                                 const validation_policy& policy) {
  validation_outcome out;
  std::vector<std::string> ok_principals;
  for (std::size_t i = 0; i < replicas.size(); ++i) {
    add_unique(out.principals_seen, replicas[i].principal);
    if (replicas[i].status == protocol::result_status::ok)
      add_unique(ok_principals, replicas[i].principal);
    else
      out.not_ok.push_back(i);
  }
  auto groups = group_results(replicas, policy);
  // Principals present in more than one group count in the total but in no group.
  std::vector<std::string> conflicted;
  for (std::size_t a = 0; a < groups.size(); ++a)
    for (std::size_t b = a + 1; b < groups.size(); ++b)
      for (const auto& p : groups[a].principals)
        if (contains(groups[b].principals, p)) add_unique(conflicted, p);
  for (auto& g : groups) std::erase_if(g.principals, [&](const std::string& p) { return contains(conflicted, p); });

  const std::size_t total = ok_principals.size();
  const agreement_group* winner = nullptr;
  std::size_t best = 0;
  for (const auto& g : groups) {
    best = std::max(best, g.principals.size());
    if (g.principals.size() >= policy.quorum && 2 * g.principals.size() > total) winner = &g;
  }
  if (winner) {
    out.verdict = unit_verdict::validated;
    out.canonical = winner->representative;
    for (const auto& g : groups)
      for (const auto i : g.members) (&g == winner ? out.agreeing : out.disagreeing).push_back(i);
    std::sort(out.disagreeing.begin(), out.disagreeing.end());
    for (const auto i : out.agreeing) out.agreeing_agents.push_back(replicas[i].agent_id);
    for (const auto i : out.disagreeing) out.disagreeing_agents.push_back(replicas[i].agent_id);
    out.reason = std::to_string(winner->principals.size()) + " of " + std::to_string(total) +
                 " principals agree (quorum " + std::to_string(policy.quorum) + ")";
    return out;
  }

  // Agreeing principals still needed: x more for a group of `best` to reach the quorum and a strict majority,
  // (best + x) > (total + x) / 2, i.e. x >= total - 2 best + 1.
  const auto b = static_cast<std::int64_t>(best), t = static_cast<std::int64_t>(total);
  const std::int64_t needed = std::max({static_cast<std::int64_t>(policy.quorum) - b, t - 2 * b + 1, std::int64_t{1}});
  const std::int64_t issued = static_cast<std::int64_t>(replicas.size()) + in_flight;
  const std::int64_t room = std::max<std::int64_t>(0, static_cast<std::int64_t>(policy.max_replicas) - issued);
  const std::int64_t want = std::max<std::int64_t>(0, needed - in_flight);
  if (room == 0 && in_flight == 0) {
    out.verdict = unit_verdict::failed;
    for (const auto& g : groups) out.disagreeing.insert(out.disagreeing.end(), g.members.begin(), g.members.end());
    std::sort(out.disagreeing.begin(), out.disagreeing.end());
    for (const auto i : out.disagreeing) out.disagreeing_agents.push_back(replicas[i].agent_id);
    out.reason = "no agreement of " + std::to_string(policy.quorum) + " principals after " +
                 std::to_string(replicas.size()) + " results (limit " + std::to_string(policy.max_replicas) + ")";
    return out;
  }
  out.verdict = unit_verdict::pending;
  out.more_replicas = static_cast<std::uint32_t>(std::min(want, room));
  out.reason = replicas.empty() ? "no results yet"
                                : "largest agreeing group has " + std::to_string(best) + " of " +
                                      std::to_string(total) + " principals";
  return out;
}

}  // namespace ec::aggregator
