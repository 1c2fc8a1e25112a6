// A run request carrying custom kernel code crosses to the worker unchanged, and a corrupted one is refused or
// decodes without harm (the worker checks the decoded sizes again before running anything).
#include <doctest/doctest.h>

#include "../../../agent/src/worker_frame.hpp"

using namespace ec;
using namespace ec::agent::worker;

namespace {

run_request custom_request() {
  run_request r;
  r.task_id = "c1";
  r.device_id = "vulkan:0";
  r.kernel = "custom";
  r.inputs = {{"x", protocol::dtype::f32, {64}, 0, 256}};
  r.scalars = {{2, 0x40400000u}};
  r.outputs = {{"y", protocol::dtype::f32, {64}, 256, 256}};
  r.budget_us = 500000;
  r.arena_bytes = 4096;
  r.custom = custom_code{{0x03, 0x02, 0x23, 0x07, 9, 9, 9, 9}, "__kernel void k() {}", "main", {64, 2}, {128, 4}};
  return r;
}

}  // namespace

TEST_CASE("a run request with custom code survives encode and decode unchanged") {
  auto back = decode(encode(custom_request()));
  REQUIRE(back.ok());
  const auto* r = std::get_if<run_request>(&*back);
  REQUIRE(r != nullptr);
  REQUIRE(r->custom.has_value());
  const auto sent = custom_request();
  const auto& want = *sent.custom;
  CHECK(r->custom->spirv == want.spirv);
  CHECK(r->custom->opencl_c == want.opencl_c);
  CHECK(r->custom->entry == want.entry);
  CHECK(r->custom->local == want.local);
  CHECK(r->custom->global == want.global);
  CHECK(r->kernel == "custom");
}

TEST_CASE("a 3-D custom run request with an 8-byte param survives encode and decode unchanged") {
  auto sent = custom_request();
  sent.custom->local = {4, 2, 2};
  sent.custom->global = {8, 6, 4};
  sent.scalars = {{0, 7u, 0}, {5, 0x00000000u, 0x3ff80000u}};  // u32 7, f64 1.5
  auto back = decode(encode(sent));
  REQUIRE(back.ok());
  const auto& r = std::get<run_request>(*back);
  REQUIRE(r.custom.has_value());
  CHECK(r.custom->local == sent.custom->local);
  CHECK(r.custom->global == sent.custom->global);
  REQUIRE(r.scalars.size() == 2);
  CHECK(r.scalars[1].kind == 5);
  CHECK(r.scalars[1].bits == 0u);
  CHECK(r.scalars[1].high_bits == 0x3ff80000u);
  CHECK(r.scalars[0].high_bits == 0u);
}

TEST_CASE("a run request without custom code decodes with none") {
  auto r = custom_request();
  r.custom.reset();
  auto back = decode(encode(r));
  REQUIRE(back.ok());
  CHECK_FALSE(std::get<run_request>(*back).custom.has_value());
}

TEST_CASE("every single-bit flip of a custom run request is refused or decodes without harm") {
  const auto bytes = encode(custom_request());
  for (std::size_t n = 0; n + 8 < bytes.size(); ++n) CHECK_FALSE(decode({bytes.data(), n}).ok());
  for (std::size_t i = 0; i < bytes.size(); ++i)
    for (int bit = 0; bit < 8; ++bit) {
      auto copy = bytes;
      copy[i] ^= static_cast<std::uint8_t>(1 << bit);
      (void)decode(copy);  // must not crash or read out of bounds (ASan build)
    }
}
