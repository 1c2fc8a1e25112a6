// open() refuses everything it must: tampering, wrong kind, wrong region, high-s, untrusted keys, misaddressing,
// oversize payloads, and bodies that break the verifier budget or the protocol's structural rules.
#include <doctest/doctest.h>

#include "ec/protocol/keys.hpp"
#include "ec/protocol/message_views.hpp"
#include "ec/wire/envelope_generated.h"
#include "ec/wire/task_generated.h"

#include <cstring>
#include "test_keys.hpp"

using namespace ec::protocol;
using namespace ec::test;
using ec::error_code;

namespace {

bytes sealed(message_kind kind, const bytes& body, const signer& by, std::string_view pfx = prefix) {
  auto w = seal(kind, body, pfx, by);
  REQUIRE_MESSAGE(w.ok(), w.err().what());
  return std::move(w).value();
}

bytes sealed(message_kind kind) { return sealed(kind, sample_body(kind), sender_of(kind)); }

// Byte ranges of the envelope's fields inside the wire bytes.
struct field_ranges {
  std::size_t kind_at;
  std::pair<std::size_t, std::size_t> key_id, body, signature;  // [begin, end)
};

field_ranges ranges_of(const bytes& wire) {
  const auto* env = flatbuffers::GetRoot<ec::wire::SignedEnvelope>(wire.data());
  auto range = [&](const flatbuffers::Vector<std::uint8_t>* v) {
    auto begin = static_cast<std::size_t>(v->data() - wire.data());
    return std::make_pair(begin, begin + v->size());
  };
  // The kind byte is the scalar field at vtable slot 4; find it through the table's vtable.
  const auto* table = reinterpret_cast<const flatbuffers::Table*>(env);
  const auto* kind_ptr = table->GetAddressOf(ec::wire::SignedEnvelope::VT_KIND);
  REQUIRE(kind_ptr != nullptr);
  return {static_cast<std::size_t>(kind_ptr - wire.data()), range(env->key_id()), range(env->body()),
          range(env->signature())};
}

// A trust store with OpenSSL verifiers, so that tens of thousands of tampered envelopes check quickly.
const trust_store& fast_agent_trust() {
  static auto t = [] {
    auto s = std::make_unique<static_trust_store>(openssl_verifier_factory());
    s->trust_aggregator(aggregator_signer().key());
    return s;
  }();
  return *t;
}

open_options fast_options(message_kind kind) {
  auto o = receiver_options(kind);
  if (is_agent_bound(kind)) o.trust = &fast_agent_trust();
  return o;
}

}  // namespace

TEST_CASE("open rejects every single-bit flip of the kind, key_id, body and signature of a sealed task batch") {
  const auto kind = message_kind::task_batch;
  const bytes wire = sealed(kind, build(sample_task_batch(1)), aggregator_signer());
  const auto opt = fast_options(kind);
  REQUIRE(open(wire, opt).ok());
  const auto r = ranges_of(wire);
  std::vector<std::size_t> positions{r.kind_at};
  for (auto [b, e] : {r.key_id, r.body, r.signature})
    for (auto i = b; i < e; ++i) positions.push_back(i);
  std::size_t flips = 0;
  for (auto pos : positions) {
    for (int bit = 0; bit < 8; ++bit) {
      bytes tampered = wire;
      tampered[pos] ^= static_cast<std::uint8_t>(1U << bit);
      auto opened = open(tampered, opt);
      if (opened.ok()) FAIL("flip accepted at byte " << pos << " bit " << bit);
      ++flips;
    }
  }
  CHECK(flips == positions.size() * 8);
  MESSAGE("rejected " << flips << " single-bit flips");
}

TEST_CASE("no single-bit flip or truncation anywhere in an envelope yields acceptance of different content") {
  for (auto kind : {message_kind::task_batch, message_kind::receipt, message_kind::work_request,
                    message_kind::agent_hello}) {
    CAPTURE(to_string(kind));
    const bytes wire = sealed(kind);
    const auto opt = fast_options(kind);
    auto original = open(wire, opt);
    REQUIRE(original.ok());
    const bytes body(original->body.begin(), original->body.end());
    for (std::size_t pos = 0; pos < wire.size(); ++pos) {
      for (int bit = 0; bit < 8; ++bit) {
        bytes tampered = wire;
        tampered[pos] ^= static_cast<std::uint8_t>(1U << bit);
        auto opened = open(tampered, opt);
        if (!opened.ok()) continue;
        // Accepted only if it is the same message: padding and unused bytes carry no meaning.
        CHECK(opened->kind == kind);
        CHECK(opened->signer == original->signer);
        CHECK(std::equal(opened->body.begin(), opened->body.end(), body.begin(), body.end()));
      }
    }
    for (std::size_t len = 0; len < wire.size(); ++len) {
      auto opened = open(byte_span(wire.data(), len), opt);
      if (opened.ok()) CHECK(std::equal(opened->body.begin(), opened->body.end(), body.begin(), body.end()));
    }
  }
}

TEST_CASE("a message sealed for one kind is rejected as every other kind") {
  for (auto sealed_kind : {message_kind::agent_hello, message_kind::work_request, message_kind::task_batch,
                           message_kind::result_batch, message_kind::receipt, message_kind::control}) {
    const bytes wire = sealed(sealed_kind);
    for (auto other : {message_kind::agent_hello, message_kind::work_request, message_kind::task_batch,
                       message_kind::result_batch, message_kind::receipt, message_kind::control}) {
      if (other == sealed_kind) continue;
      auto opened = open(wire, receiver_options(other));
      REQUIRE_FALSE(opened.ok());
      CHECK(opened.code() == error_code::wrong_kind);
    }
  }
}

TEST_CASE("a message sealed for one region prefix is rejected in another") {
  const bytes wire = sealed(message_kind::task_batch, sample_body(message_kind::task_batch), aggregator_signer(),
                            "ec/v1/region-a");
  auto opt = receiver_options(message_kind::task_batch);
  opt.prefix = "ec/v1/region-a";
  CHECK(open(wire, opt).ok());
  opt.prefix = "ec/v1/region-b";
  auto opened = open(wire, opt);
  CHECK(opened.code() == error_code::bad_signature);
}

TEST_CASE("the high-s twin of a valid signature is rejected") {
  bytes wire = sealed(message_kind::receipt);
  const auto r = ranges_of(wire);
  raw_signature sig{};
  std::copy(wire.begin() + static_cast<std::ptrdiff_t>(r.signature.first),
            wire.begin() + static_cast<std::ptrdiff_t>(r.signature.second), sig.begin());
  const auto twin = high_s_twin(sig);
  REQUIRE(twin != sig);
  std::copy(twin.begin(), twin.end(), wire.begin() + static_cast<std::ptrdiff_t>(r.signature.first));
  CHECK(open(wire, receiver_options(message_kind::receipt)).code() == error_code::bad_signature);
  auto fast = fast_options(message_kind::receipt);
  CHECK(open(wire, fast).code() == error_code::bad_signature);
}

TEST_CASE("a hello whose public key does not hash to its key_id is rejected") {
  auto hello = sample_hello();
  hello.public_key = stranger_signer().key().spki_der();  // signed by the agent, carrying another key
  const bytes wire = sealed(message_kind::agent_hello, build(hello), agent_signer());
  CHECK(open(wire, receiver_options(message_kind::agent_hello)).code() == error_code::bad_key_id);
}

TEST_CASE("a hello from an unknown key opens (it certifies itself) and must name its own agent_id") {
  auto hello = sample_hello();
  hello.public_key = stranger_signer().key().spki_der();
  hello.agent_id = agent_id_of(stranger_signer().key().id());
  auto opened = open(sealed(message_kind::agent_hello, build(hello), stranger_signer()),
                     receiver_options(message_kind::agent_hello));
  REQUIRE_MESSAGE(opened.ok(), opened.err().what());
  CHECK(opened->signer_agent_id == hello.agent_id);
  hello.agent_id = agent_id();  // claims to be someone else
  CHECK(open(sealed(message_kind::agent_hello, build(hello), stranger_signer()),
             receiver_options(message_kind::agent_hello))
            .code() == error_code::misaddressed);
}

TEST_CASE("a task batch signed by a key not trusted for task batches is rejected") {
  CHECK(open(sealed(message_kind::task_batch, sample_body(message_kind::task_batch), stranger_signer()),
             receiver_options(message_kind::task_batch))
            .code() == error_code::untrusted_key);
  // An agent key is trusted for its own kinds only, never to sign tasks.
  auto opt = receiver_options(message_kind::task_batch);
  opt.trust = &aggregator_trust();
  CHECK(open(sealed(message_kind::task_batch, sample_body(message_kind::task_batch), agent_signer()), opt).code() ==
        error_code::untrusted_key);
}

TEST_CASE("a task batch addressed to another agent's topic is rejected as misaddressed") {
  auto opt = receiver_options(message_kind::task_batch);
  opt.topic_agent_id = "00000000000000000000000000000000";
  CHECK(open(sealed(message_kind::task_batch), opt).code() == error_code::misaddressed);
}

TEST_CASE("a result batch carrying a result in another agent's name is rejected") {
  auto batch = sample_result_batch(1);
  auto other = sample_result("t9");
  other.agent_id = "ffffffffffffffffffffffffffffffff";
  batch.results.push_back(build(other));
  CHECK(open(sealed(message_kind::result_batch, build(batch), agent_signer()),
             receiver_options(message_kind::result_batch))
            .code() == error_code::misaddressed);
}

TEST_CASE("a payload above the cap is refused before it is parsed") {
  auto opt = receiver_options(message_kind::task_batch);
  const bytes wire = sealed(message_kind::task_batch);
  opt.max_payload = wire.size() - 1;
  CHECK(open(wire, opt).code() == error_code::too_large);
  bytes garbage(2 * 1024 * 1024, 0x41);
  CHECK(open(garbage, receiver_options(message_kind::task_batch)).code() == error_code::too_large);
}

TEST_CASE("garbage and a wrong file identifier are malformed") {
  const bytes junk{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  CHECK(open(junk, receiver_options(message_kind::receipt)).code() == error_code::malformed);
  CHECK(open(byte_span(), receiver_options(message_kind::receipt)).code() == error_code::malformed);
  bytes wire = sealed(message_kind::receipt);
  wire[4] = 'X';  // identifier ECW1 -> XCW1
  CHECK(open(wire, receiver_options(message_kind::receipt)).code() == error_code::malformed);
}

TEST_CASE("a batch of 256 tasks opens, 257 are rejected") {
  auto ok = open(sealed(message_kind::task_batch, build(sample_task_batch(256)), aggregator_signer()),
                 fast_options(message_kind::task_batch));
  REQUIRE_MESSAGE(ok.ok(), ok.err().what());
  CHECK(ok->blobs.size() == 256);
  auto too_many = open(sealed(message_kind::task_batch, build(sample_task_batch(257)), aggregator_signer()),
                       fast_options(message_kind::task_batch));
  CHECK(too_many.code() == error_code::malformed);
}

TEST_CASE("a batch whose blobs overlap is rejected") {
  flatbuffers::FlatBufferBuilder b;
  const auto task = build(sample_task("t0"));
  b.ForceVectorAlignment(task.size(), 1, 8);
  auto shared = b.CreateVector(task);
  std::vector<flatbuffers::Offset<ec::wire::TaskBlob>> blobs{ec::wire::CreateTaskBlob(b, shared),
                                                             ec::wire::CreateTaskBlob(b, shared)};
  auto tasks = b.CreateVector(blobs);
  b.Finish(ec::wire::CreateTaskBatch(b, b.CreateString(agent_id()), 0, tasks));
  const bytes body(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
  std::vector<byte_span> out;
  auto r = verify_body(message_kind::task_batch, body, out);
  CHECK(r.code() == error_code::malformed);
  CHECK(r.err().message.find("overlap") != std::string::npos);
  CHECK(open(sealed(message_kind::task_batch, body, aggregator_signer()), fast_options(message_kind::task_batch))
            .code() == error_code::malformed);
}

TEST_CASE("out-of-range enums are rejected in every place they occur") {
  std::vector<byte_span> blobs;
  auto t = sample_task("t0");
  t.validation = static_cast<validation_mode>(2);
  task_batch batch{agent_id(), "", {build(t)}, 0, 0};
  CHECK(verify_body(message_kind::task_batch, build(batch), blobs).code() == error_code::bad_enum);

  t = sample_task("t0");
  t.inputs[0].type = static_cast<dtype>(6);
  batch.tasks = {build(t)};
  CHECK(verify_body(message_kind::task_batch, build(batch), blobs).code() == error_code::bad_enum);

  auto c = sample_control();
  c.desired_state = static_cast<agent_state>(3);
  CHECK(verify_body(message_kind::control, build(c), blobs).code() == error_code::bad_enum);

  auto h = sample_hello();
  h.devices[0].type = static_cast<device_type>(5);
  CHECK(verify_body(message_kind::agent_hello, build(h), blobs).code() == error_code::bad_enum);

  auto r = sample_result("t0");
  r.status = static_cast<result_status>(7);
  CHECK(verify_body(message_kind::result_batch, build(result_batch{agent_id(), {build(r)}, 0}), blobs).code() ==
        error_code::bad_enum);
}

TEST_CASE("a hello names at most 64 out-of-service groups of at most 64 bytes each") {
  std::vector<byte_span> blobs;
  auto h = sample_hello();
  h.out_of_service.assign(max_out_of_service_groups, std::string(max_resource_group_name, 'g'));
  auto at_limit = verify_body(message_kind::agent_hello, build(h), blobs);
  CHECK_MESSAGE(at_limit.ok(), at_limit.err().what());

  h.out_of_service.push_back("one-too-many");
  auto too_many = verify_body(message_kind::agent_hello, build(h), blobs);
  CHECK(too_many.code() == error_code::malformed);
  CHECK(too_many.err().message.find("at most 64") != std::string::npos);

  h.out_of_service = {std::string(max_resource_group_name + 1, 'g')};
  CHECK(verify_body(message_kind::agent_hello, build(h), blobs).code() == error_code::malformed);
  CHECK(open(sealed(message_kind::agent_hello, build(h), agent_signer()), receiver_options(message_kind::agent_hello))
            .code() == error_code::malformed);
}

TEST_CASE("a tensor whose dtype x shape differs from its data length is rejected, overflow included") {
  std::vector<byte_span> blobs;
  auto t = sample_task("t0");
  t.inputs[0].shape = {5};  // 20 bytes declared, 16 present
  CHECK(verify_body(message_kind::task_batch, build(task_batch{agent_id(), "", {build(t)}, 0, 0}), blobs).code() ==
        error_code::bad_tensor);
  t = sample_task("t0");
  t.inputs[0].shape = {1ULL << 32, 1ULL << 31};  // x 4 bytes overflows 64 bits
  CHECK(verify_body(message_kind::task_batch, build(task_batch{agent_id(), "", {build(t)}, 0, 0}), blobs).code() ==
        error_code::bad_tensor);
  t = sample_task("t0");
  t.outputs[0].data = bytes(16, 0);  // a declared output carries no data
  CHECK(verify_body(message_kind::task_batch, build(task_batch{agent_id(), "", {build(t)}, 0, 0}), blobs).code() ==
        error_code::bad_tensor);
}

TEST_CASE("a task blob without its ECT1 identifier, or a result blob in a task batch, is rejected") {
  std::vector<byte_span> blobs;
  bytes blob = build(sample_task("t0"));
  blob[4] = 'X';
  CHECK(verify_body(message_kind::task_batch, build(task_batch{agent_id(), "", {blob}, 0, 0}), blobs).code() ==
        error_code::malformed);
  const bytes result_blob = build(sample_result("t0"));
  CHECK(verify_body(message_kind::task_batch, build(task_batch{agent_id(), "", {result_blob}, 0, 0}), blobs).code() ==
        error_code::malformed);
}

TEST_CASE("kernel \"custom\" and custom code go together") {
  std::vector<byte_span> blobs;
  auto t = sample_task("t0");
  t.kernel = "custom";
  CHECK(verify_body(message_kind::task_batch, build(task_batch{agent_id(), "", {build(t)}, 0, 0}), blobs).code() ==
        error_code::malformed);
  t.custom = custom_kernel{{}, "kernel void k() {}", "k", {64}, {1024}, bytes(32, 1), bytes(64, 2)};
  CHECK(verify_body(message_kind::task_batch, build(task_batch{agent_id(), "", {build(t)}, 0, 0}), blobs).ok());
  t.kernel = "saxpy";
  CHECK(verify_body(message_kind::task_batch, build(task_batch{agent_id(), "", {build(t)}, 0, 0}), blobs).code() ==
        error_code::malformed);
}

TEST_CASE("the shared verifier budget stops a batch whose blobs hold too many tables in total") {
  auto t = sample_task("t0");
  for (int i = 0; i < 40; ++i) t.params.push_back({"p" + std::to_string(i), dtype::i32, i, 0});
  task_batch batch{agent_id(), "", {}, 0, 0};
  for (int i = 0; i < 200; ++i) batch.tasks.push_back(build(t));  // 200 x 45 tables > 8192
  std::vector<byte_span> blobs;
  auto r = verify_body(message_kind::task_batch, build(batch), blobs);
  CHECK(r.code() == error_code::malformed);
  batch.tasks.resize(150);  // 150 x 45 tables fits
  CHECK(verify_body(message_kind::task_batch, build(batch), blobs).ok());
}

// A Task whose `outputs` tensors all share one name string: small on the wire, huge once decoded.
static bytes task_with_shared_names(std::size_t tensors, std::size_t name_bytes) {
  flatbuffers::FlatBufferBuilder b;
  auto name = b.CreateString(std::string(name_bytes, 'n'));
  std::vector<flatbuffers::Offset<ec::wire::Tensor>> outs;
  for (std::size_t i = 0; i < tensors; ++i) outs.push_back(ec::wire::CreateTensor(b, name, ec::wire::DType::F32));
  auto outputs = b.CreateVector(outs);
  auto id = b.CreateString("t0"), job = b.CreateString("j"), agent = b.CreateString(agent_id()),
       kernel = b.CreateString("saxpy");
  ec::wire::TaskBuilder tb(b);
  tb.add_task_id(id);
  tb.add_job_id(job);
  tb.add_agent_id(agent);
  tb.add_kernel(kernel);
  tb.add_outputs(outputs);
  b.Finish(tb.Finish(), ec::wire::TaskIdentifier());
  return {b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize()};
}

TEST_CASE("a body whose shared strings would decode to far more than its size is rejected") {
  std::vector<byte_span> blobs;
  // 4,000 references to one 64 KiB name: ~100 KiB on the wire, ~250 MiB through decode().
  auto big = task_with_shared_names(4000, 64 * 1024);
  auto r = verify_body(message_kind::task_batch, build(task_batch{agent_id(), "", {big}, 0, 0}), blobs);
  CHECK(r.code() == error_code::malformed);
  CHECK(r.err().message.find("expand") != std::string::npos);
  // The same shape with a short name decodes to about its own size and passes.
  auto small = task_with_shared_names(4000, 8);
  CHECK(verify_body(message_kind::task_batch, build(task_batch{agent_id(), "", {small}, 0, 0}), blobs).ok());
}

TEST_CASE("a tensor shape whose u64 elements are not 8-byte aligned is rejected, not read") {
  // Hand-laid Task blob: every field as the builder lays it, then the shape vector moved by 4 bytes.
  auto t = sample_task("t0");
  t.inputs = {tensor{"x", dtype::u8, {3}, bytes(3, 1)}};
  t.outputs.clear();
  bytes blob = build(t);
  const auto* root = flatbuffers::GetRoot<ec::wire::Task>(blob.data());
  const auto* shape = root->inputs()->Get(0)->shape();
  REQUIRE(shape != nullptr);
  // Append a copy of the vector at the end (length at an 8-aligned offset, so its u64 elements sit 4 bytes off)
  // and point the field at it: the verifier accepts the 4-aligned length, the elements are misaligned.
  const auto len_at = reinterpret_cast<const std::uint8_t*>(shape) - blob.data();
  bytes moved = blob;
  const std::size_t new_len_at = moved.size();
  moved.resize(moved.size() + 4 + 8 + 4, 0);
  const std::uint32_t one = 1;
  std::memcpy(moved.data() + new_len_at, &one, 4);
  const std::uint64_t three = 3;
  std::memcpy(moved.data() + new_len_at + 4, &three, 8);
  REQUIRE((new_len_at + 4) % 8 != 0);
  // Find the field's uoffset: the 4 bytes in the Tensor table that point at len_at.
  const std::ptrdiff_t tensor_table = reinterpret_cast<const std::uint8_t*>(root->inputs()->Get(0)) - blob.data();
  bool patched = false;
  for (std::ptrdiff_t at = tensor_table; at + 4 <= static_cast<std::ptrdiff_t>(blob.size()) && !patched; at += 4) {
    std::uint32_t off = 0;
    std::memcpy(&off, blob.data() + at, 4);
    if (at + static_cast<std::ptrdiff_t>(off) == len_at) {
      const auto new_off = static_cast<std::uint32_t>(static_cast<std::ptrdiff_t>(new_len_at) - at);
      std::memcpy(moved.data() + at, &new_off, 4);
      patched = true;
    }
  }
  REQUIRE(patched);
  std::vector<byte_span> blobs;
  auto r = verify_body(message_kind::task_batch, build(task_batch{agent_id(), "", {moved}, 0, 0}), blobs);
  CHECK(r.code() == error_code::malformed);
  CHECK(r.err().message.find("aligned") != std::string::npos);
}
