// Keys: generation and key files (mode 0600, atomic save), PEM formats, P-256 only, one canonical SPKI per key,
// and the key_id / agent_id known answers of tests/data/kat_vectors.txt.
#include "ec/protocol/keys.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include "crypto_test_support.hpp"
#include "ec/protocol/mbedtls_signer.hpp"
#include "ec/protocol/openssl_signer.hpp"
#include "ec/protocol/sha256.hpp"

using namespace ec::protocol;
using ec::error_code;
using ec::test::scratch_dir;

namespace {

unsigned mode_of(const std::filesystem::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

private_key fresh_key() {
  auto key = private_key::generate();
  REQUIRE_MESSAGE(key.ok(), key.err().what());
  return std::move(key).value();
}

// A P-256 key made by the openssl CLI, in every encoding the tests need.
struct cli_p256_key {
  scratch_dir dir;
  std::filesystem::path sec1 = dir / "sec1.pem", pkcs8 = dir / "pkcs8.pem", pub_pem = dir / "pub.pem",
                        pub_der = dir / "pub.der";
  cli_p256_key() {
    ec::test::openssl_ok("ecparam -name prime256v1 -genkey -noout -out " + ec::test::quoted(sec1));
    ec::test::openssl_ok("pkcs8 -topk8 -nocrypt -in " + ec::test::quoted(sec1) + " -out " + ec::test::quoted(pkcs8));
    ec::test::openssl_ok("pkey -in " + ec::test::quoted(sec1) + " -pubout -out " + ec::test::quoted(pub_pem));
    ec::test::openssl_ok("pkey -in " + ec::test::quoted(sec1) + " -pubout -outform DER -out " +
                         ec::test::quoted(pub_der));
  }
  // The public key in another encoding: `openssl ec <args> -pubout -outform DER`.
  bytes pub_der_with(const std::string& args) {
    const auto out = dir / "variant.der";
    ec::test::openssl_ok("ec -in " + ec::test::quoted(sec1) + " -pubout -outform DER " + args + " -out " +
                         ec::test::quoted(out));
    return ec::test::read_binary(out);
  }
};

}  // namespace

TEST_CASE("a generated key saves with mode 0600, leaves no temp file, and loads back as the same key") {
  scratch_dir dir;
  const auto path = dir / "agent.key";
  const auto key = fresh_key();
  REQUIRE(key.save(path).ok());
  CHECK(mode_of(path) == 0600);
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path()), std::filesystem::directory_iterator()) == 1);

  auto loaded = private_key::load(path);
  REQUIRE_MESSAGE(loaded.ok(), loaded.err().what());
  CHECK(loaded->public_half().id() == key.public_half().id());
  CHECK(loaded->public_half().spki_der() == key.public_half().spki_der());
  CHECK(loaded->to_pem().value() == key.to_pem().value());
  CHECK(ec::test::read_text(path).find("-----BEGIN EC PRIVATE KEY-----") == 0);

  // The loaded scalar is the generated one: its signatures verify under the original public key.
  const mbedtls_signer signer(std::move(loaded).value());
  const mbedtls_verifier verifier(key.public_half());
  const auto digest = sha256_of(as_bytes("round trip"));
  CHECK(verifier.verify_digest(digest, signer.sign_digest(digest).value()).ok());
}

TEST_CASE("save replaces an existing key file, group-readable or not, with a 0600 file") {
  scratch_dir dir;
  const auto path = dir / "agent.key";
  ec::test::write_text(path, "old contents");
  std::filesystem::permissions(path, std::filesystem::perms(0644));
  const auto key = fresh_key();
  REQUIRE(key.save(path).ok());
  CHECK(mode_of(path) == 0600);
  auto loaded = private_key::load(path);
  REQUIRE(loaded.ok());
  CHECK(loaded->public_half().id() == key.public_half().id());
}

TEST_CASE("load refuses a private key file that group or others can access, naming the path, mode and fix") {
  scratch_dir dir;
  const auto path = dir / "agent.key";
  REQUIRE(fresh_key().save(path).ok());
  for (const unsigned mode : {0640u, 0604u, 0620u, 0602u, 0644u, 0660u}) {
    CAPTURE(mode);
    std::filesystem::permissions(path, std::filesystem::perms(mode));
    const auto loaded = private_key::load(path);
    REQUIRE(!loaded.ok());
    CHECK(loaded.code() == error_code::insecure_key_file);
    const std::string& msg = loaded.err().message;
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", mode);
    CHECK(msg.find(path.string()) != std::string::npos);
    CHECK(msg.find(octal) != std::string::npos);
    CHECK(msg.find("chmod 600") != std::string::npos);
  }
  for (const unsigned mode : {0600u, 0400u}) {
    CAPTURE(mode);
    std::filesystem::permissions(path, std::filesystem::perms(mode));
    CHECK(private_key::load(path).ok());
  }
}

TEST_CASE("a missing key file, or a save into a missing directory, is an io_error") {
  scratch_dir dir;
  CHECK(fresh_key().save(dir / "no-such-dir" / "agent.key").code() == error_code::io_error);
  CHECK(private_key::load(dir / "absent.key").code() == error_code::io_error);
  CHECK(public_key::load(dir / "absent.pem").code() == error_code::io_error);
}

TEST_CASE("P-256 keys from the openssl CLI load from SEC1, PKCS#8 and public PEM with the CLI's SPKI") {
  cli_p256_key cli;
  const bytes cli_spki = ec::test::read_binary(cli.pub_der);
  auto sec1 = private_key::from_pem(ec::test::read_text(cli.sec1));
  auto pkcs8 = private_key::from_pem(ec::test::read_text(cli.pkcs8));
  auto pub = public_key::from_pem(ec::test::read_text(cli.pub_pem));
  auto pub_of_private = public_key::from_pem(ec::test::read_text(cli.pkcs8));
  auto pub_file = public_key::load(cli.pub_pem);
  auto pub_der = public_key::from_spki_der(cli_spki, /*require_canonical=*/true);
  auto ossl = openssl_signer::from_pem(ec::test::read_text(cli.pkcs8));
  REQUIRE_MESSAGE(sec1.ok(), sec1.err().what());
  REQUIRE_MESSAGE(pkcs8.ok(), pkcs8.err().what());
  REQUIRE_MESSAGE(pub.ok(), pub.err().what());
  REQUIRE(pub_of_private.ok());
  REQUIRE(pub_file.ok());
  REQUIRE_MESSAGE(pub_der.ok(), pub_der.err().what());
  REQUIRE_MESSAGE(ossl.ok(), ossl.err().what());

  CHECK(sec1->public_half().spki_der() == cli_spki);
  const key_id id = sha256_of(cli_spki);
  for (const public_key* k :
       std::initializer_list<const public_key*>{&sec1->public_half(), &pkcs8->public_half(), &*pub, &*pub_of_private,
                                                &*pub_file, &*pub_der, &(*ossl)->key()})
    CHECK(k->id() == id);
}

TEST_CASE("keys that are not P-256 are refused as invalid_key everywhere") {
  scratch_dir dir;
  const std::pair<const char*, const char*> makers[] = {
      {"P-384 SEC1", "ecparam -name secp384r1 -genkey -noout"},
      {"P-384 PKCS#8", "genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384"},
      {"secp256k1 (same size, other curve)", "ecparam -name secp256k1 -genkey -noout"},
      {"RSA", "genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024"},
      {"Ed25519", "genpkey -algorithm ed25519"},
  };
  for (const auto& [label, command] : makers) {
    const std::string name = label;  // a copy: clang 14 cannot capture a structured binding in CAPTURE's lambda
    CAPTURE(name);
    const auto key_pem = dir / "other.pem";
    const auto pub_pem = dir / "other_pub.pem";
    const auto pub_der = dir / "other_pub.der";
    ec::test::openssl_ok(std::string(command) + " -out " + ec::test::quoted(key_pem));
    ec::test::openssl_ok("pkey -in " + ec::test::quoted(key_pem) + " -pubout -out " + ec::test::quoted(pub_pem));
    ec::test::openssl_ok("pkey -in " + ec::test::quoted(key_pem) + " -pubout -outform DER -out " +
                         ec::test::quoted(pub_der));
    const std::string pem = ec::test::read_text(key_pem);
    CHECK(private_key::from_pem(pem).code() == error_code::invalid_key);
    CHECK(public_key::from_pem(pem).code() == error_code::invalid_key);
    CHECK(public_key::from_pem(ec::test::read_text(pub_pem)).code() == error_code::invalid_key);
    CHECK(public_key::from_spki_der(ec::test::read_binary(pub_der), false).code() == error_code::invalid_key);
    CHECK(openssl_signer::from_pem(pem).code() == error_code::invalid_key);
    std::filesystem::permissions(key_pem, std::filesystem::perms(0600));
    CHECK(private_key::load(key_pem).code() == error_code::invalid_key);
  }
}

TEST_CASE("a non-canonical SPKI is refused with require_canonical and never yields another key_id without it") {
  cli_p256_key cli;
  const bytes canonical = ec::test::read_binary(cli.pub_der);
  REQUIRE(canonical.size() == 91);
  const key_id id = sha256_of(canonical);

  bytes trailing = canonical;
  trailing.push_back(0x00);
  // BER, not DER: non-minimal length forms, which Mbed TLS 2.28 reads as the same key.
  bytes long_outer = {0x30, 0x81, 0x59};
  long_outer.insert(long_outer.end(), canonical.begin() + 2, canonical.end());
  bytes long_bit_string = {0x30, 0x5a};
  long_bit_string.insert(long_bit_string.end(), canonical.begin() + 2, canonical.begin() + 23);
  long_bit_string.insert(long_bit_string.end(), {0x03, 0x81, 0x42});
  long_bit_string.insert(long_bit_string.end(), canonical.begin() + 25, canonical.end());

  struct variant {
    std::string name;
    bytes der;
    bool lax_must_parse;  // what Mbed TLS 2.28 does when canonical form is not required
  };
  const variant variants[] = {
      {"non-minimal outer length", long_outer, true},
      {"non-minimal BIT STRING length", long_bit_string, true},
      {"trailing byte", trailing, false},                                             // length mismatch
      {"explicit curve parameters", cli.pub_der_with("-param_enc explicit"), false},  // not parsed
      {"compressed point", cli.pub_der_with("-conv_form compressed"), false},         // cannot decompress
  };
  for (const auto& v : variants) {
    CAPTURE(v.name);
    REQUIRE(v.der != canonical);
    CHECK(public_key::from_spki_der(v.der, /*require_canonical=*/true).code() == error_code::invalid_key);
    const auto lax = public_key::from_spki_der(v.der, /*require_canonical=*/false);
    if (v.lax_must_parse) CHECK_MESSAGE(lax.ok(), lax.err().what());
    if (lax.ok()) {
      CHECK(lax->id() == id);
      CHECK(lax->spki_der() == canonical);
    }
  }
  const auto exact = public_key::from_spki_der(canonical, true);
  REQUIRE(exact.ok());
  CHECK(exact->id() == id);
}

TEST_CASE("SPKI bytes that are empty, truncated or off the curve are refused") {
  const auto key = fresh_key();
  const bytes good = key.public_half().spki_der();
  bytes off_curve = good;
  off_curve.back() ^= 0x01;  // y no longer matches x
  for (const bool canonical : {true, false}) {
    CAPTURE(canonical);
    CHECK(public_key::from_spki_der({}, canonical).code() == error_code::invalid_key);
    CHECK(public_key::from_spki_der(byte_span(good.data(), good.size() - 1), canonical).code() ==
          error_code::invalid_key);
    CHECK(public_key::from_spki_der(byte_span(good.data(), 30), canonical).code() == error_code::invalid_key);
    CHECK(public_key::from_spki_der(off_curve, canonical).code() == error_code::invalid_key);
  }
  CHECK(public_key::from_pem("not a key").code() == error_code::invalid_key);
  CHECK(private_key::from_pem("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n").code() ==
        error_code::invalid_key);
}

TEST_CASE("the known-answer key has the SPKI, key_id and agent_id of tests/data/kat_vectors.txt") {
  const std::string pem = ec::test::read_text(ec::test::test_data("kat_key.pem"));
  auto key = private_key::from_pem(pem);
  REQUIRE_MESSAGE(key.ok(), key.err().what());
  const public_key& pub = key->public_half();
  CHECK(to_hex(pub.spki_der()) == ec::test::kat("spki_der"));
  CHECK(to_hex(pub.point()) == ec::test::kat("point"));
  CHECK(to_hex(pub.id()) == ec::test::kat("key_id"));
  CHECK(agent_id_of(pub.id()) == ec::test::kat("agent_id"));

  auto from_der = public_key::from_spki_der(ec::test::unhex(ec::test::kat("spki_der")), true);
  REQUIRE(from_der.ok());
  CHECK(to_hex(from_der->id()) == ec::test::kat("key_id"));
  auto ossl = openssl_signer::from_pem(pem);
  REQUIRE(ossl.ok());
  CHECK(to_hex((*ossl)->key().id()) == ec::test::kat("key_id"));
}

TEST_CASE("agent_id_of is the lowercase hex of the first 16 bytes of the key_id") {
  key_id id{};
  for (std::size_t i = 0; i < id.size(); ++i) id[i] = static_cast<std::uint8_t>(0xa0 + i);
  CHECK(agent_id_of(id) == "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
}

TEST_CASE("a public key round-trips through PEM that the openssl CLI reads, and saves 0644 under any umask") {
  scratch_dir dir;
  const auto key = fresh_key();
  const std::string pem = key.public_half().to_pem();
  CHECK(pem.find("-----BEGIN PUBLIC KEY-----\n") == 0);
  auto back = public_key::from_pem(pem);
  REQUIRE(back.ok());
  CHECK(back->id() == key.public_half().id());

  const auto path = dir / "agent.pub";
  const mode_t old_umask = ::umask(077);
  const auto saved = save_public_key(key.public_half(), path);
  ::umask(old_umask);
  REQUIRE_MESSAGE(saved.ok(), saved.err().what());
  CHECK(mode_of(path) == 0644);
  const auto der = dir / "agent.der";
  ec::test::openssl_ok("pkey -pubin -in " + ec::test::quoted(path) + " -outform DER -out " + ec::test::quoted(der));
  CHECK(ec::test::read_binary(der) == key.public_half().spki_der());
  auto loaded = public_key::load(path);
  REQUIRE(loaded.ok());
  CHECK(loaded->id() == key.public_half().id());
  CHECK(save_public_key(public_key{}, dir / "empty.pub").code() == error_code::invalid_argument);
}

TEST_CASE("a private key PEM whose stored public key is not its own is refused by both loaders") {
  scratch_dir dir;
  // The known-answer key as SEC1 DER ends with its 65-byte public point; put another key's point there.
  const auto der_path = dir / "kat.der";
  ec::test::openssl_ok("ec -in " + ec::test::quoted(ec::test::test_data("kat_key.pem")) + " -outform DER -out " +
                       ec::test::quoted(der_path));
  bytes der = ec::test::read_binary(der_path);
  REQUIRE(der.size() == 121);
  const bytes other = fresh_key().public_half().point();
  std::copy(other.begin(), other.end(), der.end() - 65);
  ec::test::write_binary(der_path, der);
  const std::string b64 = ec::test::openssl_ok("base64 -in " + ec::test::quoted(der_path));
  const std::string pem = "-----BEGIN EC PRIVATE KEY-----\n" + b64 + "-----END EC PRIVATE KEY-----\n";
  CHECK(private_key::from_pem(pem).code() == error_code::invalid_key);
  CHECK(openssl_signer::from_pem(pem).code() == error_code::invalid_key);
}

TEST_CASE("an encrypted private key is refused without prompting for a pass phrase") {
  scratch_dir dir;
  const auto enc = dir / "enc.pem";
  ec::test::openssl_ok("pkcs8 -topk8 -v2 aes-256-cbc -passout pass:secret -in " +
                       ec::test::quoted(ec::test::test_data("kat_key.pem")) + " -out " + ec::test::quoted(enc));
  const std::string pem = ec::test::read_text(enc);
  REQUIRE(pem.find("ENCRYPTED PRIVATE KEY") != std::string::npos);
  CHECK(private_key::from_pem(pem).code() == error_code::invalid_key);
  CHECK(openssl_signer::from_pem(pem).code() == error_code::invalid_key);
}

TEST_CASE("a moved-from or default private key cannot be encoded or saved") {
  scratch_dir dir;
  auto key = fresh_key();
  const private_key moved = std::move(key);
  CHECK(moved.to_pem().ok());
  const private_key empty;
  CHECK(empty.to_pem().code() == error_code::invalid_argument);
  CHECK(empty.save(dir / "k").code() == error_code::invalid_argument);
  CHECK(!std::filesystem::exists(dir / "k"));
}
