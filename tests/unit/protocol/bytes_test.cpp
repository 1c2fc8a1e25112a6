// Hex encoding, and the stable names of error codes and message kinds used in logs and counters.
#include "ec/protocol/bytes.hpp"

#include <doctest/doctest.h>

#include "ec/protocol/error.hpp"
#include "ec/protocol/message_kind.hpp"

using namespace ec::protocol;

TEST_CASE("to_hex writes lowercase and from_hex reads either case back") {
  const bytes data = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
  CHECK(to_hex(data) == "00017f80abff");
  CHECK(to_hex({}).empty());
  bytes back;
  REQUIRE(from_hex("00017F80ABff", back));
  CHECK(back == data);
  REQUIRE(from_hex("", back));
  CHECK(back.empty());
}

TEST_CASE("from_hex refuses odd lengths and non-hex characters and leaves its output untouched") {
  const bytes before = {0x42};
  for (const char* bad : {"a", "abc", "0g", "g0", " 0", "0x00", "zz", "-1"}) {
    CAPTURE(bad);
    bytes out = before;
    CHECK_FALSE(from_hex(bad, out));
    CHECK(out == before);
  }
}

TEST_CASE("error codes and message kinds have stable names") {
  CHECK(ec::to_string(ec::error_code::ok) == "ok");
  CHECK(ec::to_string(ec::error_code::bad_signature) == "bad_signature");
  CHECK(ec::to_string(ec::error_code::insecure_key_file) == "insecure_key_file");
  CHECK(ec::to_string(ec::error_code::invalid_argument) == "invalid_argument");
  CHECK(ec::to_string(static_cast<ec::error_code>(200)) == "unknown");
  CHECK(ec::fail(ec::error_code::invalid_key, "not P-256").what() == "invalid_key: not P-256");
  CHECK(ec::error{ec::error_code::io_error, ""}.what() == "io_error");

  CHECK(to_string(message_kind::invalid) == "invalid");
  CHECK(to_string(message_kind::agent_hello) == "agent_hello");
  CHECK(to_string(message_kind::work_request) == "work_request");
  CHECK(to_string(message_kind::task_batch) == "task_batch");
  CHECK(to_string(message_kind::result_batch) == "result_batch");
  CHECK(to_string(message_kind::receipt) == "receipt");
  CHECK(to_string(message_kind::control) == "control");
  CHECK(to_string(message_kind::code) == "code");
  CHECK(to_string(static_cast<message_kind>(0x7f)) == "unknown");
}
