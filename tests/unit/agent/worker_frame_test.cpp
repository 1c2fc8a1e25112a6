// Worker frames are verified like network input: round trips are exact, and truncated, oversized or corrupted
// frames are refused (or decode to values the receiver checks again), never crash the receiver.
#include "../../../agent/src/worker_frame.hpp"

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace ec;
using namespace ec::agent::worker;

namespace {

run_request sample_request() {
  run_request r;
  r.task_id = "t1";
  r.device_id = "cpu";
  r.kernel = "saxpy";
  r.kernel_version = 1;
  r.inputs = {{"x", protocol::dtype::f32, {4}, 0, 16}, {"y", protocol::dtype::f32, {4}, 64, 16}};
  r.scalars = {{2, 0x40000000u}, {0, 4}};
  r.outputs = {{"out", protocol::dtype::f32, {4}, 128, 16}};
  r.groups = {3, 1};
  r.budget_us = 12345;
  r.arena_bytes = 1 << 20;
  return r;
}

}  // namespace

TEST_CASE("a run request survives encode and decode unchanged") {
  const auto bytes = encode(sample_request());
  auto back = decode(bytes);
  REQUIRE(back.ok());
  const auto* r = std::get_if<run_request>(&*back);
  REQUIRE(r != nullptr);
  CHECK(r->task_id == "t1");
  CHECK(r->inputs.size() == 2);
  CHECK(r->inputs[1].offset == 64);
  CHECK(r->scalars[0].bits == 0x40000000u);
  CHECK(r->outputs[0].shape == std::vector<std::uint64_t>{4});
  CHECK(r->budget_us == 12345);
}

TEST_CASE("every truncation and every single-bit flip of a frame is refused or decodes without harm") {
  const auto bytes = encode(sample_request());
  // The last bytes may be alignment padding nothing points into; any shorter prefix cuts something referenced.
  for (std::size_t n = 0; n + 8 < bytes.size(); ++n) CHECK_FALSE(decode({bytes.data(), n}).ok());
  for (std::size_t i = 0; i < bytes.size(); ++i)
    for (int bit = 0; bit < 8; ++bit) {
      auto copy = bytes;
      copy[i] ^= static_cast<std::uint8_t>(1 << bit);
      (void)decode(copy);  // must not crash or read out of bounds (ASan build)
    }
}

TEST_CASE("a length prefix above the cap is refused before anything is allocated") {
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  const std::uint8_t huge[4] = {0xff, 0xff, 0xff, 0x7f};
  REQUIRE(::write(fds[0], huge, 4) == 4);
  auto f = receive_frame(fds[1], ec::backends::clock::now() + std::chrono::seconds(5));
  CHECK(f.code() == error_code::too_large);
  ::close(fds[0]);
  auto eof = receive_frame(fds[1], ec::backends::clock::now() + std::chrono::seconds(5));
  CHECK(eof.code() == error_code::unavailable);
  ::close(fds[1]);
}

TEST_CASE("a reply, a ready and a discovery frame round-trip over a socket") {
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  run_reply reply;
  reply.status = protocol::result_status::timeout;
  reply.error = std::string(10000, 'e');  // cut to max_error_text
  REQUIRE(send_frame(fds[0], reply).ok());
  REQUIRE(send_frame(fds[0], ready{{"cpu", "vulkan:0"}, "landlock abi 3", 3}).ok());
  discovery d;
  d.devices.push_back({"cpu", {}});
  d.devices.back().info.resource_group = "cpu";
  d.backends.push_back({"cpu", true, "", ""});
  REQUIRE(send_frame(fds[0], d).ok());
  const auto deadline = ec::backends::clock::now() + std::chrono::seconds(5);
  auto a = receive_frame(fds[1], deadline);
  auto b = receive_frame(fds[1], deadline);
  auto c = receive_frame(fds[1], deadline);
  REQUIRE((a.ok() && b.ok() && c.ok()));
  CHECK(std::get<run_reply>(*a).error.size() == max_error_text);
  CHECK(std::get<ready>(*b).device_ids.size() == 2);
  CHECK(std::get<discovery>(*c).devices.at(0).info.resource_group == "cpu");
  ::close(fds[0]);
  ::close(fds[1]);
}
