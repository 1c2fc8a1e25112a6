// Protocol throughput: seal() and open() per second for a small and a large body with each signer/verifier
// implementation (Mbed TLS for agents, OpenSSL for aggregators), the body verifier alone, and SHA-256 bandwidth
// (Mbed TLS, which the protocol uses, and OpenSSL) beside memcpy over the same 1 MiB (the machine's own limit).
// Run it with bench/run-protocol-bench.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include "ec/protocol/envelope.hpp"
#include "ec/protocol/keys.hpp"
#include "ec/protocol/mbedtls_signer.hpp"
#include "ec/protocol/messages.hpp"
#include "ec/protocol/openssl_signer.hpp"
#include "ec/protocol/sha256.hpp"

namespace {

namespace p = ec::protocol;

constexpr std::string_view prefix = "ec/v1/bench";
constexpr std::size_t one_mib = 1024 * 1024;

template <typename T>
T must(ec::result<T> r) {
  if (!r) throw std::runtime_error(r.err().what());
  return std::move(r).value();
}

enum class impl { mbedtls, openssl };

// A signer and a receiver's trust store holding its key. Both implementations use the same key, so the two
// differ only in the crypto library.
struct implementation {
  std::unique_ptr<p::signer> signer;
  std::unique_ptr<p::static_trust_store> trust;
};

const std::string& key_pem() {
  static const std::string pem = must(must(p::private_key::generate()).to_pem());
  return pem;
}

implementation make(impl which) {
  implementation out;
  if (which == impl::mbedtls) {
    out.signer = std::make_unique<p::mbedtls_signer>(must(p::private_key::from_pem(key_pem())));
    out.trust = std::make_unique<p::static_trust_store>(p::mbedtls_verifier_factory());
  } else {
    out.signer = must(p::openssl_signer::from_pem(key_pem()));
    out.trust = std::make_unique<p::static_trust_store>(p::openssl_verifier_factory());
  }
  out.trust->trust_agent(out.signer->key());  // WorkRequest is an agent's message, opened by an aggregator
  return out;
}

const implementation& get(impl which) {
  static const implementation mbedtls = make(impl::mbedtls);
  static const implementation openssl = make(impl::openssl);
  return which == impl::mbedtls ? mbedtls : openssl;
}

// A valid WorkRequest body of at least `target` bytes (open() verifies the body, so padding must stay valid):
// request_id carries the padding; the required 32-character agent_id sets the smallest size.
p::bytes body_of_size(std::size_t target, const p::signer& signer) {
  p::work_request m{p::agent_id_of(signer.key().id()), "", 1, 1, 65536, 1'790'000'000'000};
  p::bytes body = p::build(m);
  while (body.size() < target) {
    m.request_id.append(target - body.size(), 'r');
    body = p::build(m);
  }
  return body;
}

p::open_options receiver(const implementation& im) {
  p::open_options o;
  o.expected_kind = p::message_kind::work_request;
  o.prefix = prefix;
  o.trust = im.trust.get();
  return o;
}

void report_sizes(benchmark::State& state, std::size_t body, std::size_t wire) {
  state.SetItemsProcessed(state.iterations());
  state.counters["body_bytes"] = static_cast<double>(body);
  state.counters["wire_bytes"] = static_cast<double>(wire);
}

void BM_seal(benchmark::State& state, impl which) {
  const auto& im = get(which);
  const p::bytes body = body_of_size(static_cast<std::size_t>(state.range(0)), *im.signer);
  const std::size_t wire_size = must(p::seal(p::message_kind::work_request, body, prefix, *im.signer)).size();
  for (auto _ : state) {
    auto wire = p::seal(p::message_kind::work_request, body, prefix, *im.signer);
    benchmark::DoNotOptimize(wire);
  }
  report_sizes(state, body.size(), wire_size);
}

void BM_open(benchmark::State& state, impl which) {
  const auto& im = get(which);
  const p::bytes body = body_of_size(static_cast<std::size_t>(state.range(0)), *im.signer);
  const p::bytes wire = must(p::seal(p::message_kind::work_request, body, prefix, *im.signer));
  const auto options = receiver(im);
  if (auto check = p::open(wire, options); !check) throw std::runtime_error(check.err().what());
  for (auto _ : state) {
    auto opened = p::open(wire, options);
    benchmark::DoNotOptimize(opened);
  }
  report_sizes(state, body.size(), wire.size());
}

// Check 5 alone: what open() costs beyond the signature.
void BM_verify_body(benchmark::State& state) {
  const p::bytes body = body_of_size(static_cast<std::size_t>(state.range(0)), *get(impl::mbedtls).signer);
  std::vector<p::byte_span> blobs;
  for (auto _ : state) {
    auto verified = p::verify_body(p::message_kind::work_request, body, blobs);
    benchmark::DoNotOptimize(verified);
  }
  report_sizes(state, body.size(), body.size());
}

p::bytes pseudo_random(std::size_t n) {
  p::bytes out(n);
  std::uint32_t x = 2463534242u;
  for (auto& b : out) {
    x ^= x << 13;  // xorshift32: reproducible, and no pattern a hash could shortcut
    x ^= x >> 17;
    x ^= x << 5;
    b = static_cast<std::uint8_t>(x);
  }
  return out;
}

void BM_sha256_1MiB(benchmark::State& state) {
  const p::bytes data = pseudo_random(one_mib);
  for (auto _ : state) {
    auto digest = p::sha256_of(data);
    benchmark::DoNotOptimize(digest);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * data.size()));
}

// The same hash with OpenSSL (SHA-NI where the CPU has it): what SHA-256 itself can do on this machine, as
// opposed to Mbed TLS's portable C, which the protocol uses for every digest.
void BM_sha256_openssl_1MiB(benchmark::State& state) {
  const p::bytes data = pseudo_random(one_mib);
  for (auto _ : state) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr) != 1) state.SkipWithError("EVP");
    benchmark::DoNotOptimize(digest);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * data.size()));
}

// The same 1 MiB moved by memcpy: the bandwidth ceiling that SHA-256 is to be read against.
void BM_memcpy_1MiB(benchmark::State& state) {
  const p::bytes src = pseudo_random(one_mib);
  p::bytes dst(one_mib);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), src.size());
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * src.size()));
}

constexpr std::int64_t small_body = 64;
constexpr std::int64_t large_body = 64 * 1024;

}  // namespace

BENCHMARK_CAPTURE(BM_seal, mbedtls, impl::mbedtls)->Arg(small_body)->Arg(large_body)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_seal, openssl, impl::openssl)->Arg(small_body)->Arg(large_body)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_open, mbedtls, impl::mbedtls)->Arg(small_body)->Arg(large_body)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_open, openssl, impl::openssl)->Arg(small_body)->Arg(large_body)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_verify_body)->Arg(small_body)->Arg(large_body)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_sha256_1MiB)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_sha256_openssl_1MiB)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_memcpy_1MiB)->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
