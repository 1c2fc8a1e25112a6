// Shared pieces of the integration tests: a region (a real mosquitto with ACLs, the test aggregator, one or more
// real edge-agent processes), catalogue tasks with their C++ reference answers, and output comparison.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent_process.hpp"
#include "ec/kernels/catalog.hpp"
#include "ec/kernels/kernel_spec.hpp"
#include "ec/protocol/messages.hpp"
#include "ec/protocol/tolerance.hpp"
#include "mosquitto_broker.hpp"
#include "test_aggregator.hpp"

namespace ec::test {

using namespace std::chrono_literals;

inline constexpr auto agent_ready_timeout = 30s;  // process start, device probe, CONNACK, hello
inline constexpr auto result_timeout = 30s;

/// A broker, the aggregator (connected) and agents (created, not started: start_agent()).
struct region_fixture {
  explicit region_fixture(std::size_t agent_count = 1, std::map<std::string, std::string> settings = {},
                          broker_options broker_opts = {})
      : broker(std::move(broker_opts)), aggregator(aggregator_options()) {
    broker.add_user("aggregator", "pw-aggregator");
    for (std::size_t i = 0; i < agent_count; ++i) {
      agent_process_options o;
      o.binary = EC_AGENT_BINARY;
      o.region = "test";
      o.aggregator_key_pems = {aggregator.public_key_pem()};
      o.settings = settings;
      agents.push_back(std::make_unique<agent_process>(broker, std::move(o)));
    }
    broker.start();
    aggregator.start(broker.url());
  }

  static test_aggregator_options aggregator_options() {
    test_aggregator_options o;
    o.region = "test";
    return o;
  }

  agent_process& agent(std::size_t i = 0) { return *agents.at(i); }
  const std::string& id(std::size_t i = 0) { return agents.at(i)->agent_id(); }

  /// Starts agent i and waits for its online hello (with a session_seq above the last one seen).
  void start_agent(std::size_t i = 0) {
    const auto before = aggregator.agent(id(i));
    agent(i).start();
    const bool hello = aggregator.wait_hello(id(i), agent_ready_timeout,
                                             before ? std::optional<std::uint64_t>(before->session_seq) : std::nullopt);
    INFO("agent log:\n" << agent(i).log_text());
    REQUIRE_MESSAGE(hello, "no online hello from the agent");
  }

  /// Agent logs, the broker log's tail and the aggregator's counters, for failure messages.
  std::string diagnostics() {
    std::string s;
    for (std::size_t i = 0; i < agents.size(); ++i) {
      auto log = agents[i]->log_text();
      if (log.size() > 12000) log = "...\n" + log.substr(log.size() - 12000);
      s += "--- agent " + std::to_string(i) + " (" + id(i) + ") log:\n" + log;
    }
    auto blog = broker.log_text();
    if (blog.size() > 4000) blog = "...\n" + blog.substr(blog.size() - 4000);
    s += "--- broker log:\n" + blog;
    const auto c = aggregator.counters();
    s += "--- aggregator: hellos=" + std::to_string(c.hellos) + " work_requests=" + std::to_string(c.work_requests) +
         " batches_sent=" + std::to_string(c.task_batches_sent) + " tasks_issued=" + std::to_string(c.tasks_issued) +
         " result_batches=" + std::to_string(c.result_batches) + " accepted=" + std::to_string(c.results_accepted) +
         " duplicate=" + std::to_string(c.results_duplicate) + " refused=" + std::to_string(c.results_refused) +
         " receipts=" + std::to_string(c.receipts_sent) + " rejected=" + std::to_string(c.messages_rejected) + "\n";
    const auto requests = aggregator.work_requests();
    const std::size_t first = requests.size() > 12 ? requests.size() - 12 : 0;
    for (std::size_t i = first; i < requests.size(); ++i) {
      s += "work request " + requests[i].request.request_id + (requests[i].repeated ? " (repeated)" : "") + "\n";
    }
    for (const auto& r : aggregator.results()) {
      if (!r.accepted) s += "refused result task=" + r.result.task_id + " reason=" + r.reason + "\n";
    }
    return s;
  }

  mosquitto_broker broker;
  test_aggregator aggregator;
  std::vector<std::unique_ptr<agent_process>> agents;
};

/// A catalogue task with the C++ reference's answer.
struct kernel_case {
  const kernels::kernel_spec* spec = nullptr;
  protocol::task task;
  std::vector<protocol::tensor> expected;
};

/// A task of `spec` from its known-answer sample (or generate() with `dims` when given); outputs declared as
/// bind() computes them, the reference run on the same inputs.
inline kernel_case make_kernel_case(const kernels::kernel_spec& spec, const std::string& task_id,
                                    std::vector<std::uint64_t> dims = {}, std::uint64_t seed = 1) {
  auto s = dims.empty() ? spec.known_answer() : spec.generate(dims, seed, kernels::sample_data::ordinary);
  std::vector<protocol::tensor_ref> refs;
  for (const auto& t : s.inputs) refs.push_back(t.ref());
  auto call = spec.bind(s.params, refs);
  REQUIRE_MESSAGE(call.ok(), std::string(spec.name) << ": bind failed: " << call.err().what());
  kernel_case kc;
  kc.spec = &spec;
  kc.expected = kernels::run_reference(*call);
  kc.task.task_id = task_id;
  kc.task.job_id = "job-" + task_id;
  kc.task.kernel = std::string(spec.name);
  kc.task.kernel_version = spec.version;
  kc.task.params = s.params;
  kc.task.inputs = s.inputs;
  for (const auto& o : call->outputs) kc.task.outputs.push_back(protocol::tensor{o.name, o.type, o.shape, {}});
  kc.task.validation = spec.validation;
  kc.task.rtol = spec.rtol;
  kc.task.atol = spec.atol;
  return kc;
}

/// A small, fast task (the copy kernel's known answer).
inline protocol::task small_task(const std::string& task_id) {
  const auto* spec = kernels::find_kernel("copy");
  REQUIRE(spec != nullptr);
  return make_kernel_case(*spec, task_id).task;
}

/// Whether `got` matches the reference under the kernel's validation mode; fills `why` when not.
inline bool outputs_match(const kernel_case& kc, const std::vector<protocol::tensor>& got, std::string& why) {
  if (got.size() != kc.expected.size()) {
    why = "output count " + std::to_string(got.size()) + " != " + std::to_string(kc.expected.size());
    return false;
  }
  for (std::size_t i = 0; i < got.size(); ++i) {
    const auto& a = got[i];
    const auto& b = kc.expected[i];
    if (kc.spec->validation == protocol::validation_mode::exact) {
      if (a.name != b.name || a.type != b.type || a.shape != b.shape || a.data != b.data) {
        why = "output '" + b.name + "' differs (exact)";
        return false;
      }
    } else if (const auto m = protocol::compare_tensors(a.ref(), b.ref(), kc.spec->rtol, kc.spec->atol)) {
      why = "output '" + b.name + "' differs at " + std::to_string(m->index) + ": " + m->reason;
      return false;
    }
  }
  return true;
}

/// Distinct Result blobs the aggregator received for a task: 1 = executed once (republishes carry the same bytes).
inline std::size_t distinct_result_blobs(const test_aggregator& agg, const std::string& task_id) {
  std::set<protocol::bytes> blobs;
  for (const auto& r : agg.results_for(task_id)) blobs.insert(r.blob);
  return blobs.size();
}

/// Queues a fresh small task and waits for its accepted result: proof that the agent still works.
inline bool agent_still_works(region_fixture& f, const std::string& task_id, std::size_t agent = 0) {
  f.aggregator.queue_tasks(f.id(agent), {small_task(task_id)});
  return f.aggregator.wait_result_for(task_id, result_timeout);
}

/// Parses "spool N batches pending" from `edge-agent status`; -1 when absent.
inline long spool_pending_batches(const std::string& status_text) {
  // A running agent's status file says "spool_pending_batches N"; a stopped agent's journal view "spool N batches".
  if (const auto running = status_text.find("spool_pending_batches "); running != std::string::npos)
    return std::stol(status_text.substr(running + 22));
  const auto at = status_text.find("spool ");
  if (at == std::string::npos) return -1;
  const auto digits = status_text.find_first_of("0123456789", at);
  if (digits == std::string::npos) return -1;
  return std::stol(status_text.substr(digits));
}

/// Waits (bounded) until the running agent's status reports an empty spool: the last receipt may still be on
/// its way when the aggregator has sent it. Returns whether it emptied.
inline bool wait_spool_empty(agent_process& agent, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto [rc, text] = agent.run_cli({"status", "--config", agent.config_path().string()});
    if (rc == 0 && spool_pending_batches(text) == 0) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // polling another process's status file
  }
}

/// A number from a running agent's status file ("KEY N"); -1 when absent.
inline long status_number(const std::string& status_text, const std::string& key) {
  const auto at = status_text.find(key + " ");
  if (at == std::string::npos) return -1;
  return std::stol(status_text.substr(at + key.size() + 1));
}

/// Waits (bounded) until the running agent reports at least n results spooled (signed and durable).
inline bool wait_until_spooled(agent_process& agent, long n, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto [rc, text] = agent.run_cli({"status", "--config", agent.config_path().string()});
    if (rc == 0 && status_number(text, "results_spooled") >= n) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // polling another process's status file
  }
}

}  // namespace ec::test
