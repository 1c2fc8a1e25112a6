// Writes the fuzzers' seed corpora: sealed sample messages of each kind, so fuzzing starts from inputs that pass
// every check instead of having to discover the envelope, the identifiers and the nested blobs by chance.
// Run by hand when the schema changes: ec_fuzz_make_corpus tests/fuzz/corpus (the outputs are committed).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "fuzz_support.hpp"
#include "test_keys.hpp"

namespace {

namespace p = ec::protocol;
namespace fs = std::filesystem;
using p::message_kind;

void write(const fs::path& dir, const std::string& name, p::byte_span data) {
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  if (!out) throw std::runtime_error("cannot write " + (dir / name).string());
}

// Sealed by the kind's legitimate sender (tests/unit/protocol/test_keys), for the fuzz prefix.
p::bytes sealed(message_kind kind, const p::bytes& body) {
  auto wire = p::seal(kind, body, ec::fuzz::prefix, ec::test::sender_of(kind));
  if (!wire) throw std::runtime_error(wire.err().what());
  return std::move(wire).value();
}

// Agent-bound seeds name the fuzzers' fixed topic agent, so open() accepts them up to and including check 6.
std::string topic_agent() { return std::string(ec::fuzz::topic_agent_id); }

p::task custom_task() {
  p::task t = ec::test::sample_task("t-custom");
  t.kernel = "custom";
  t.custom = p::custom_kernel{p::bytes(64, 0x03), "__kernel void k() {}", "k", {64, 1, 1}, {1024},
                              p::bytes(32, 0x11), p::bytes(64, 0x22)};
  return t;
}

p::task_result failed_result() {
  p::task_result r = ec::test::sample_result("t-failed");
  r.status = p::result_status::kernel_error;
  r.error = "device lost";
  r.outputs.clear();
  r.output_digest.clear();
  r.device.reset();
  return r;
}

struct seed {
  message_kind kind;
  std::string name;
  p::bytes body;
  bool also_signed = false;  // one seed per kind also seeds fuzz_open_signed, which is slow (real crypto)
};

std::vector<seed> seeds() {
  using namespace ec::test;
  std::vector<seed> out;
  out.push_back({message_kind::agent_hello, "hello_full", p::build(sample_hello()), true});
  p::agent_hello bare;
  bare.agent_id = agent_id();
  bare.public_key = agent_signer().key().spki_der();
  out.push_back({message_kind::agent_hello, "hello_bare", p::build(bare)});

  out.push_back({message_kind::work_request, "work_request", p::build(sample_work_request()), true});

  for (std::size_t n : {0, 1, 3}) {
    auto batch = sample_task_batch(n);
    batch.agent_id = topic_agent();
    out.push_back({message_kind::task_batch, "task_batch_" + std::to_string(n), p::build(batch), n == 1});
  }
  auto custom = sample_task_batch(0);
  custom.agent_id = topic_agent();
  custom.tasks.push_back(p::build(custom_task()));
  out.push_back({message_kind::task_batch, "task_batch_custom", p::build(custom)});

  for (std::size_t n : {1, 3}) {
    out.push_back(
        {message_kind::result_batch, "result_batch_" + std::to_string(n), p::build(sample_result_batch(n)), n == 1});
  }
  auto mixed = sample_result_batch(1);
  mixed.results.push_back(p::build(failed_result()));
  out.push_back({message_kind::result_batch, "result_batch_failed", p::build(mixed)});

  auto rcpt = sample_receipt();
  rcpt.agent_id = topic_agent();
  out.push_back({message_kind::receipt, "receipt", p::build(rcpt), true});
  rcpt.entries.clear();
  out.push_back({message_kind::receipt, "receipt_empty", p::build(rcpt)});

  auto ctl = sample_control();
  ctl.agent_id = topic_agent();
  out.push_back({message_kind::control, "control", p::build(ctl), true});
  ctl.cancel_task_ids.clear();
  ctl.desired_state = p::agent_state::pause;
  out.push_back({message_kind::control, "control_pause", p::build(ctl)});
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR   (writes CORPUS_DIR/<fuzz target>/<seed>)\n", argv[0]);
    return 2;
  }
  const fs::path root = argv[1];
  try {
    const auto all = seeds();
    for (const auto& s : all) {
      const auto wire = sealed(s.kind, s.body);
      write(root / ("fuzz_open_" + std::string(p::to_string(s.kind))), s.name, wire);
      // fuzz_open_signed reads every input twice: as a wire payload, and as a kind byte followed by a body.
      if (s.also_signed) {
        write(root / "fuzz_open_signed", "wire_" + s.name, wire);
        p::bytes selector_and_body{static_cast<std::uint8_t>(static_cast<unsigned>(s.kind) - 1)};
        selector_and_body.insert(selector_and_body.end(), s.body.begin(), s.body.end());
        write(root / "fuzz_open_signed", "body_" + s.name, selector_and_body);
      }
    }
    std::printf("wrote %zu seeds under %s\n", all.size(), root.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_corpus: %s\n", e.what());
    return 1;
  }
  return 0;
}
