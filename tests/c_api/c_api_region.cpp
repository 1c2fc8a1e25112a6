// The C interface of the C API's test region over the C++ fixtures (tests/support/). Exceptions stop here:
// each function prints what went wrong and returns a failure value the C test asserts on.
#include "c_api_region.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "ec/kernels/catalog.hpp"
#include "ec/kernels/kernel_spec.hpp"
#include "mosquitto_broker.hpp"
#include "test_aggregator.hpp"

struct ec_region {
  std::filesystem::path dir;
  std::unique_ptr<ec::test::mosquitto_broker> broker;
  std::unique_ptr<ec::test::test_aggregator> aggregator;
  std::string aggregator_key_file;
};

struct ec_test_key {
  EVP_PKEY* pkey = nullptr;
  std::vector<std::uint8_t> spki;
  std::atomic<std::size_t> signatures{0};
};

namespace {

using ec::test::result_record;

std::string toml_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

template <typename F, typename R>
R reported(const char* what, R failure, F&& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "c_api_region: %s: %s\n", what, e.what());
  } catch (...) {
    std::fprintf(stderr, "c_api_region: %s: unknown failure\n", what);
  }
  return failure;
}

// A task of `spec` from generated (or known-answer) data, outputs declared as bind() computes them.
ec::protocol::task catalogue_task(const ec::kernels::kernel_spec& spec, ec::kernels::sample s,
                                  const std::string& task_id) {
  std::vector<ec::protocol::tensor_ref> refs;
  for (const auto& t : s.inputs) refs.push_back(t.ref());
  auto call = spec.bind(s.params, refs);
  if (!call) throw std::runtime_error(std::string(spec.name) + ": bind failed: " + call.err().what());
  ec::protocol::task t;
  t.task_id = task_id;
  t.job_id = "job-" + task_id;
  t.kernel = std::string(spec.name);
  t.kernel_version = spec.version;
  t.params = s.params;
  t.inputs = s.inputs;
  for (const auto& o : call->outputs) t.outputs.push_back(ec::protocol::tensor{o.name, o.type, o.shape, {}});
  t.validation = spec.validation;
  t.rtol = spec.rtol;
  t.atol = spec.atol;
  return t;
}

const ec::kernels::kernel_spec& kernel(const char* name) {
  const auto* spec = ec::kernels::find_kernel(name);
  if (!spec) throw std::runtime_error(std::string("no kernel ") + name);
  return *spec;
}

// Mandelbrot with a high iteration cap: the interior points make it slow, and the result is still exact.
ec::kernels::sample slow_sample(const ec::kernels::kernel_spec& spec, std::uint64_t seed) {
  const std::uint64_t dims[] = {160, 160};
  auto s = spec.generate(std::span<const std::uint64_t>(dims), seed, ec::kernels::sample_data::ordinary);
  for (auto& p : s.params)
    if (p.name == "max_iter") p.i = 30000;
  return s;
}

int queue(ec_region* r, const char* agent_id, const char* prefix, int count, bool slow) {
  return reported("queue tasks", -1, [&] {
    const auto& spec = kernel(slow ? "mandelbrot" : "copy");
    std::vector<ec::protocol::task> tasks;
    for (int i = 0; i < count; ++i) {
      const auto id = std::string(prefix) + "-" + std::to_string(i);
      tasks.push_back(
          catalogue_task(spec, slow ? slow_sample(spec, static_cast<std::uint64_t>(i) + 1) : spec.known_answer(), id));
    }
    r->aggregator->queue_tasks(agent_id, std::move(tasks));
    return 0;
  });
}

std::vector<result_record> accepted_from(ec_region* r, const char* agent_id) {
  std::vector<result_record> out;
  for (const auto& [key, rec] : r->aggregator->accepted())
    if (rec.agent_id == agent_id) out.push_back(rec);
  return out;
}

}  // namespace

extern "C" {

ec_region* ec_region_start(void) {
  return reported("start", static_cast<ec_region*>(nullptr), [] {
    auto r = std::make_unique<ec_region>();
    char tmpl[] = "/tmp/ec-c-api-XXXXXX";
    if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    r->dir = tmpl;
    r->broker = std::make_unique<ec::test::mosquitto_broker>();
    r->broker->add_user("aggregator", "pw-aggregator");
    r->broker->start();
    ec::test::test_aggregator_options o;
    o.region = "test";
    r->aggregator = std::make_unique<ec::test::test_aggregator>(o);
    r->aggregator->start(r->broker->url());
    r->aggregator_key_file = (r->dir / "aggregator.pub").string();
    r->aggregator->write_public_key(r->aggregator_key_file);
    return r.release();
  });
}

void ec_region_stop(ec_region* region) {
  if (!region) return;
  std::unique_ptr<ec_region> r(region);
  r->aggregator.reset();
  r->broker.reset();
  std::error_code ignored;
  std::filesystem::remove_all(r->dir, ignored);
}

char* ec_region_agent_config(ec_region* r, const char* name, const char* password, const char* extra) {
  return reported("agent config", static_cast<char*>(nullptr), [&] {
    const auto state = r->dir / name;
    std::filesystem::create_directories(state);
    std::filesystem::permissions(state, std::filesystem::perms::owner_all);
    std::string t;
    t += "broker.url = " + toml_string(r->broker->url()) + "\n";
    t += "broker.password = " + toml_string(password) + "\n";
    t += "broker.reconnect_min_ms = 100\n";
    t += "agent.region = \"test\"\n";
    t += "agent.state_dir = " + toml_string(state.string()) + "\n";
    t += "agent.result_batch_ms = 20\n";
    t += "agent.drain_timeout_s = 30\n";
    t += "trust.aggregator_keys = [" + toml_string(r->aggregator_key_file) + "]\n";
    t += "devices.disabled_backends = [\"vulkan\", \"opencl\"]\n";
    // An empty sysfs root: the owner policy sees only what the test feeds, not this machine's sensors.
    std::filesystem::create_directories(r->dir / "sysfs");
    t += "policy.sysfs_root = " + toml_string((r->dir / "sysfs").string()) + "\n";
    if (extra) t += std::string(extra) + "\n";
    char* out = static_cast<char*>(std::malloc(t.size() + 1));
    if (!out) throw std::bad_alloc();
    std::memcpy(out, t.c_str(), t.size() + 1);
    return out;
  });
}

int ec_region_add_agent(ec_region* r, const char* agent_id, const char* password) {
  return reported("add agent", -1, [&] {
    r->broker->add_user(agent_id, password);
    const auto connects = r->aggregator->session_stats().connects;
    r->broker->restart();  // mosquitto reads its password file at start; the aggregator reconnects by itself
    // Wait for that reconnect (polling the session's state): a hello sent before it would be missed.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (r->aggregator->session_stats().connects == connects) {
      if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("the aggregator did not reconnect");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return 0;
  });
}

int ec_region_wait_hello(ec_region* r, const char* agent_id, int timeout_ms) {
  return reported("wait hello", 0,
                  [&] { return r->aggregator->wait_hello(agent_id, std::chrono::milliseconds(timeout_ms)) ? 1 : 0; });
}

int ec_region_wait_hello_paused(ec_region* r, const char* agent_id, const char* reason, int timeout_ms) {
  return reported("wait hello paused", 0, [&] {
    const std::string want(reason);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      const auto a = r->aggregator->agent(agent_id);
      const bool paused = a && a->online && a->state == ec::protocol::agent_state::pause;
      if (a && a->online && (want.empty() ? !paused && a->paused_reason.empty()
                                          : paused && a->paused_reason.find(want) != std::string::npos))
        return 1;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polls the aggregator's record of the hellos
    }
    return 0;
  });
}

int ec_region_queue_small_tasks(ec_region* r, const char* agent_id, const char* prefix, int count) {
  return queue(r, agent_id, prefix, count, false);
}

int ec_region_queue_slow_tasks(ec_region* r, const char* agent_id, const char* prefix, int count) {
  return queue(r, agent_id, prefix, count, true);
}

int ec_region_wait_accepted(ec_region* r, const char* agent_id, size_t n, int timeout_ms) {
  return reported("wait accepted", 0, [&] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    const std::string id(agent_id);
    while (accepted_from(r, agent_id).size() < n) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return 0;
      // Woken by every result the aggregator takes in; re-counted per agent above.
      const auto seen = r->aggregator->counters().results_accepted;
      r->aggregator->wait_until([seen](const ec::test::aggregator_counters& c) { return c.results_accepted > seen; },
                                std::min(left, std::chrono::milliseconds(500)));
    }
    return 1;
  });
}

size_t ec_region_accepted(ec_region* r, const char* agent_id) {
  return reported("accepted", size_t{0}, [&] { return accepted_from(r, agent_id).size(); });
}

size_t ec_region_accepted_with_status(ec_region* r, const char* agent_id, int status) {
  return reported("accepted with status", size_t{0}, [&] {
    std::size_t n = 0;
    for (const auto& rec : accepted_from(r, agent_id))
      if (static_cast<int>(rec.result.status) == status) ++n;
    return n;
  });
}

size_t ec_region_refused(ec_region* r, const char* agent_id) {
  return reported("refused", size_t{0}, [&] {
    std::size_t n = 0;
    for (const auto& rec : r->aggregator->results())
      if (rec.agent_id == agent_id && !rec.accepted) ++n;
    return n;
  });
}

int ec_region_agent_key_is(ec_region* r, const char* agent_id, const uint8_t* spki, size_t len) {
  return reported("agent key", 0, [&] {
    const auto rec = r->aggregator->agent(agent_id);
    if (!rec) return 0;
    const auto& der = rec->key.spki_der();
    return der.size() == len && std::memcmp(der.data(), spki, len) == 0 ? 1 : 0;
  });
}

size_t ec_region_work_requests(ec_region* r, const char* agent_id) {
  return reported("work requests", size_t{0}, [&] {
    std::size_t n = 0;
    for (const auto& w : r->aggregator->work_requests())
      if (w.request.agent_id == agent_id) ++n;
    return n;
  });
}

size_t ec_region_queued(ec_region* r, const char* agent_id) {
  return reported("queued", size_t{0}, [&] { return r->aggregator->queued_tasks(agent_id); });
}

int ec_region_result_digest(ec_region* r, const char* task_id, uint8_t out[32]) {
  return reported("result digest", 0, [&] {
    const auto all = r->aggregator->accepted();
    const auto it = all.find({task_id, 0});
    if (it == all.end()) return 0;
    std::memcpy(out, it->second.result_digest.data(), 32);
    return 1;
  });
}

ec_test_key* ec_test_key_new(void) {
  return reported("test key", static_cast<ec_test_key*>(nullptr), [] {
    auto k = std::make_unique<ec_test_key>();
    k->pkey = EVP_EC_gen("P-256");
    if (!k->pkey) throw std::runtime_error("EVP_EC_gen failed");
    unsigned char* der = nullptr;
    const int len = i2d_PUBKEY(k->pkey, &der);
    if (len <= 0) throw std::runtime_error("i2d_PUBKEY failed");
    k->spki.assign(der, der + len);
    OPENSSL_free(der);
    return k.release();
  });
}

void ec_test_key_free(ec_test_key* key) {
  if (!key) return;
  EVP_PKEY_free(key->pkey);
  delete key;
}

const uint8_t* ec_test_key_spki(const ec_test_key* key, size_t* len) {
  *len = key->spki.size();
  return key->spki.data();
}

int ec_test_key_sign(void* user, const uint8_t digest[32], uint8_t* signature, size_t capacity, size_t* length) {
  auto* key = static_cast<ec_test_key*>(user);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(key->pkey, nullptr);
  if (!ctx) return -1;
  size_t len = capacity;
  const bool ok = EVP_PKEY_sign_init(ctx) == 1 && EVP_PKEY_sign(ctx, signature, &len, digest, 32) == 1;
  EVP_PKEY_CTX_free(ctx);
  if (!ok) return -1;
  *length = len;
  ++key->signatures;
  return 0;
}

size_t ec_test_key_signatures(const ec_test_key* key) { return key->signatures.load(); }

}  // extern "C"
