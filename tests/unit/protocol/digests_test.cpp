// Digests against known-answer vectors from an independent implementation (tests/data/), and the tolerance rule.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "ec/protocol/digests.hpp"
#include "ec/protocol/sha256.hpp"
#include "ec/protocol/tolerance.hpp"
#include "ec/protocol/topics.hpp"

using namespace ec::protocol;

namespace {

std::vector<std::uint64_t> parse_shape(const std::string& s) {
  std::vector<std::uint64_t> dims;
  std::stringstream in(s);
  std::string d;
  while (std::getline(in, d, 'x')) dims.push_back(std::stoull(d));
  return dims;
}

}  // namespace

TEST_CASE("output_digest matches every known-answer vector in tests/data/output_digest_vectors.txt") {
  std::ifstream in(EC_TEST_DATA_DIR "/output_digest_vectors.txt");
  REQUIRE(in.good());
  std::vector<tensor> outputs;
  int vectors = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::string what;
    words >> what;
    if (what == "output") {
      std::string name, shape, hex;
      int dt = 0;
      words >> name >> dt >> shape >> hex;
      tensor t{name, static_cast<dtype>(dt), parse_shape(shape), {}};
      REQUIRE(from_hex(hex, t.data));
      outputs.push_back(std::move(t));
    } else if (what == "digest") {
      std::string hex;
      words >> hex;
      std::vector<tensor_ref> refs;
      for (const auto& t : outputs) refs.push_back(t.ref());
      CHECK(to_hex(output_digest(refs)) == hex);
      outputs.clear();
      ++vectors;
    }
  }
  CHECK(vectors == 3);
}

TEST_CASE("output_digest changes with the name, dtype, shape and data of any output") {
  tensor t{"z", dtype::f32, {2, 2}, bytes(16, 7)};
  const auto base = output_digest({t.ref()});
  auto changed = [&](tensor u) { return output_digest({u.ref()}) != base; };
  tensor u = t;
  u.name = "y";
  CHECK(changed(u));
  u = t;
  u.type = dtype::i32;
  CHECK(changed(u));
  u = t;
  u.shape = {4, 1};
  CHECK(changed(u));
  u = t;
  u.shape = {4};  // same element count, other rank
  CHECK(changed(u));
  u = t;
  u.data[15] ^= 1;
  CHECK(changed(u));
}

TEST_CASE("task_digest and result_digest are SHA-256 of the blob bytes") {
  const bytes blob{'a', 'b', 'c'};
  CHECK(to_hex(task_digest(blob)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(result_digest(blob) == task_digest(blob));
}

TEST_CASE("tolerance: |a - b| <= atol + rtol * |b|, NaN only matches NaN, infinities exactly, -0 equals +0") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(within_tolerance(1.0, 1.0, 0, 0));
  CHECK(within_tolerance(1.001, 1.0, 1e-3, 0));
  CHECK_FALSE(within_tolerance(1.0021, 1.0, 1e-3, 1e-3 * 0.1));
  CHECK(within_tolerance(1e-7, 0.0, 0.0, 1e-6));
  CHECK_FALSE(within_tolerance(2e-6, 0.0, 0.5, 1e-6));  // rtol scales |b|, which is 0
  CHECK(within_tolerance(nan, nan, 0, 0));
  CHECK_FALSE(within_tolerance(nan, 1.0, 1, 1));
  CHECK_FALSE(within_tolerance(1.0, nan, 1, 1));
  CHECK(within_tolerance(inf, inf, 0, 0));
  CHECK_FALSE(within_tolerance(inf, -inf, 1, 1));
  CHECK_FALSE(within_tolerance(1e308, inf, 1, 1));
  CHECK(within_tolerance(-0.0, 0.0, 0, 0));
}

TEST_CASE("compare_tensors: floats within tolerance, integers bit-exact, shapes and names must agree") {
  auto f32 = [](std::vector<float> v) {
    tensor t{"z", dtype::f32, {v.size()}, bytes(v.size() * 4)};
    std::memcpy(t.data.data(), v.data(), t.data.size());
    return t;
  };
  const auto a = f32({1.0f, 2.0f, 3.0f});
  CHECK_FALSE(compare_tensors(a.ref(), f32({1.0f, 2.0000005f, 3.0f}).ref(), 1e-6, 0));
  auto m = compare_tensors(a.ref(), f32({1.0f, 2.1f, 3.0f}).ref(), 1e-6, 0);
  REQUIRE(m);
  CHECK(m->index == 1);
  auto b = a;
  b.shape = {3, 1};
  CHECK(compare_tensors(a.ref(), b.ref(), 1, 1));
  tensor i1{"n", dtype::u32, {1}, {1, 0, 0, 0}};
  tensor i2{"n", dtype::u32, {1}, {2, 0, 0, 0}};
  CHECK(compare_tensors(i1.ref(), i2.ref(), 1.0, 10.0));  // tolerance never applies to integers
}

TEST_CASE("topics are derived from a valid region prefix only") {
  auto t = topics::for_region("eu-west-1");
  REQUIRE(t.ok());
  CHECK(t->prefix() == "ec/v1/eu-west-1");
  CHECK(t->tasks("0123456789abcdef0123456789abcdef") == "ec/v1/eu-west-1/agents/0123456789abcdef0123456789abcdef/tasks");
  CHECK(t->shared_results() == "$share/aggregators/ec/v1/eu-west-1/results");
  CHECK(t->region_control() == "ec/v1/eu-west-1/control");
  CHECK_FALSE(topics::for_region("EU").ok());
  CHECK_FALSE(topics::for_region("").ok());
  CHECK_FALSE(topics::for_region("a/b").ok());
  CHECK_FALSE(topics::for_region("+").ok());
  CHECK_FALSE(topics::for_region(std::string(33, 'a')).ok());
  CHECK(is_valid_agent_id("0123456789abcdef0123456789abcdef"));
  CHECK_FALSE(is_valid_agent_id("0123456789ABCDEF0123456789abcdef"));
}
