// SHA-256 against the FIPS 180-2 examples, incremental feeding, and the little-endian integer helpers.
#include "ec/protocol/sha256.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace ec::protocol;

TEST_CASE("sha256 matches the FIPS 180-2 examples") {
  CHECK(to_hex(sha256_of({})) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(to_hex(sha256_of(as_bytes("abc"))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(to_hex(sha256_of(as_bytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  sha256 million;
  const std::string thousand(1000, 'a');
  for (int i = 0; i < 1000; ++i) million.update(as_bytes(thousand));
  CHECK(to_hex(million.finish()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("sha256 gives the same digest however the input is split") {
  std::string text;
  for (int i = 0; i < 300; ++i) text.push_back(static_cast<char>('a' + i % 26));
  const auto whole = sha256_of(as_bytes(text));
  for (std::size_t split :
       {std::size_t{0}, std::size_t{1}, std::size_t{63}, std::size_t{64}, std::size_t{65}, std::size_t{299}}) {
    CAPTURE(split);
    sha256 h;
    h.update(as_bytes(std::string_view(text).substr(0, split)));
    for (char c : std::string_view(text).substr(split)) h.update_byte(static_cast<std::uint8_t>(c));
    CHECK(h.finish() == whole);
  }
}

TEST_CASE("sha256 feeds integers as little-endian bytes of their width") {
  const std::uint8_t expected[] = {0x04, 0x03, 0x02, 0x01, 0x0d, 0x0c, 0x0b, 0x0a, 0x09, 0x08, 0x07, 0x06};
  sha256 h;
  h.update_u32_le(0x01020304u).update_u64_le(0x060708090a0b0c0dULL);
  CHECK(h.finish() == sha256_of(expected));
}
