// Helpers for the key and signer tests: scratch directories, the openssl CLI, known-answer files, DER signatures.
#pragma once

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <sstream>
#include <string>

#include "ec/protocol/bytes.hpp"

namespace ec::test {

namespace fs = std::filesystem;

/// A fresh directory under the system temp directory, removed with its contents at scope exit.
class scratch_dir {
 public:
  scratch_dir() {
    static std::atomic<unsigned> counter{0};
    std::random_device rd;
    for (;;) {
      path_ = fs::temp_directory_path() / ("ec_crypto_test_" + std::to_string(::getpid()) + "_" +
                                           std::to_string(counter++) + "_" + std::to_string(rd()));
      if (fs::create_directory(path_)) break;  // false: the name exists, take another
    }
  }
  ~scratch_dir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;

  [[nodiscard]] const fs::path& path() const { return path_; }
  [[nodiscard]] fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

/// Exit status and combined stdout+stderr of a shell command.
struct command_result {
  int status = -1;  // -1: did not exit normally
  std::string output;
};

inline command_result run_command(const std::string& command) {
  command_result r;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  REQUIRE_MESSAGE(pipe != nullptr, "popen failed for: " << command);
  char buf[512];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) r.output.append(buf, n);
  const int rc = ::pclose(pipe);
  r.status = (rc != -1 && WIFEXITED(rc)) ? WEXITSTATUS(rc) : -1;
  return r;
}

/// Single-quotes a path for /bin/sh.
inline std::string quoted(const fs::path& p) {
  std::string out = "'";
  for (char c : p.string()) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

/// Runs an openssl CLI command that must succeed. A missing CLI fails the test: these checks are never skipped.
inline std::string openssl_ok(const std::string& args) {
  const auto version = run_command("openssl version");
  REQUIRE_MESSAGE(version.status == 0, "the openssl CLI is required (apt-get install openssl): " << version.output);
  const auto r = run_command("openssl " + args);
  INFO("openssl " << args << "\n" << r.output);
  REQUIRE(r.status == 0);
  return r.output;
}

inline std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot open " << p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline protocol::bytes read_binary(const fs::path& p) {
  const std::string s = read_text(p);
  return {s.begin(), s.end()};
}

inline void write_binary(const fs::path& p, protocol::byte_span data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  REQUIRE_MESSAGE(out.good(), "cannot write " << p);
}

inline void write_text(const fs::path& p, const std::string& text) { write_binary(p, protocol::as_bytes(text)); }

inline protocol::bytes unhex(std::string_view hex) {
  protocol::bytes out;
  REQUIRE_MESSAGE(protocol::from_hex(hex, out), "bad hex in test data: " << hex);
  return out;
}

template <std::size_t N>
std::array<std::uint8_t, N> unhex_array(std::string_view hex) {
  const auto b = unhex(hex);
  REQUIRE(b.size() == N);
  std::array<std::uint8_t, N> out{};
  std::copy(b.begin(), b.end(), out.begin());
  return out;
}

/// `name = value` lines of a test-vector file (# comments and blank lines skipped).
inline std::map<std::string, std::string> read_vectors(const fs::path& p) {
  std::istringstream in(read_text(p));
  std::map<std::string, std::string> out;
  for (std::string line; std::getline(in, line);) {
    const auto eq = line.find(" = ");
    if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
    out[line.substr(0, eq)] = line.substr(eq + 3);
  }
  return out;
}

inline fs::path test_data(const std::string& name) { return fs::path(EC_TEST_DATA_DIR) / name; }

/// The known-answer vectors of tests/data/kat_vectors.txt; REQUIREs that `name` is there.
inline std::string kat(const std::string& name) {
  static const auto vectors = read_vectors(test_data("kat_vectors.txt"));
  const auto it = vectors.find(name);
  REQUIRE_MESSAGE(it != vectors.end(), "kat_vectors.txt has no " << name);
  return it->second;
}

// DER ECDSA-Sig-Value <-> raw r||s, written here rather than taken from the library so that the tests check
// the library's own conversions against an independent one.

inline void append_der_integer(protocol::bytes& out, const std::uint8_t* be, std::size_t n) {
  while (n > 1 && be[0] == 0) ++be, --n;  // minimal: no leading zero bytes...
  const bool pad = (be[0] & 0x80) != 0;   // ...except one to keep the integer positive
  out.push_back(0x02);
  out.push_back(static_cast<std::uint8_t>(n + (pad ? 1 : 0)));
  if (pad) out.push_back(0x00);
  out.insert(out.end(), be, be + n);
}

inline protocol::bytes raw_to_der(const protocol::raw_signature& sig) {
  protocol::bytes body;
  append_der_integer(body, sig.data(), 32);
  append_der_integer(body, sig.data() + 32, 32);
  protocol::bytes der{0x30, static_cast<std::uint8_t>(body.size())};  // at most 70 bytes: short-form length
  der.insert(der.end(), body.begin(), body.end());
  return der;
}

inline protocol::raw_signature der_to_raw(const protocol::bytes& der) {
  protocol::raw_signature raw{};
  REQUIRE(der.size() >= 8);
  REQUIRE(der[0] == 0x30);
  REQUIRE(der[1] == der.size() - 2);
  std::size_t pos = 2;
  for (std::size_t half = 0; half < 2; ++half) {
    REQUIRE(pos + 2 <= der.size());
    REQUIRE(der[pos] == 0x02);
    std::size_t len = der[pos + 1];
    pos += 2;
    REQUIRE(pos + len <= der.size());
    while (len > 0 && der[pos] == 0) ++pos, --len;
    REQUIRE(len <= 32);
    std::copy(der.begin() + static_cast<long>(pos), der.begin() + static_cast<long>(pos + len),
              raw.begin() + static_cast<long>(half * 32 + 32 - len));
    pos += len;
  }
  REQUIRE(pos == der.size());
  return raw;
}

}  // namespace ec::test
