// P-256 keys over Mbed TLS 2.28: generation, PEM (SEC1 and PKCS#8), the canonical SPKI and key files.
#include "ec/protocol/keys.hpp"

#include <fcntl.h>
#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "ec/protocol/sha256.hpp"
#include "mbedtls_random.hpp"

namespace ec::protocol {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t max_key_file_bytes = 64 * 1024;  // a PEM key is under 1 KiB: refuse to slurp anything big
constexpr std::size_t max_spki_bytes = 4096;

std::string mbedtls_text(int rc) {
  char buf[160];
  mbedtls_strerror(rc, buf, sizeof buf);
  return buf;
}

// errno is read before anything else runs: building the message allocates, and allocation may change errno.
ec::error io_fail(const char* what, const fs::path& path) {
  const int err = errno;
  return fail(error_code::io_error, std::string(what) + " " + path.string() + ": " + std::strerror(err));
}

// Owns an mbedtls_pk_context on the stack.
struct pk_holder {
  mbedtls_pk_context ctx;
  pk_holder() { mbedtls_pk_init(&ctx); }
  ~pk_holder() { mbedtls_pk_free(&ctx); }
  pk_holder(const pk_holder&) = delete;
  pk_holder& operator=(const pk_holder&) = delete;
};

// A string holding private key material, wiped when it goes out of scope.
struct secret_text {
  std::string text;
  ~secret_text() { mbedtls_platform_zeroize(text.data(), text.size()); }
};

// Closes a file descriptor on every exit path.
struct fd_closer {
  int fd;
  ~fd_closer() {
    if (fd >= 0) ::close(fd);
  }
};

// id-ecPublicKey on prime256v1 only: id-ecDH keys would re-encode under another OID, so another key_id.
result<void> require_p256(const mbedtls_pk_context& pk) {
  if (mbedtls_pk_get_type(&pk) != MBEDTLS_PK_ECKEY)
    return fail(error_code::invalid_key,
                std::string("not an EC key (") + mbedtls_pk_get_name(&pk) + "); P-256 is required");
  const mbedtls_ecp_group_id curve = mbedtls_pk_ec(pk)->grp.id;
  if (curve != MBEDTLS_ECP_DP_SECP256R1) {
    const mbedtls_ecp_curve_info* info = mbedtls_ecp_curve_info_from_grp_id(curve);
    return fail(error_code::invalid_key,
                std::string("EC key on curve ") + (info ? info->name : "unknown") + "; P-256 (secp256r1) is required");
  }
  return {};
}

// The canonical SPKI: Mbed TLS writes the named curve and the uncompressed point whatever the input used.
result<bytes> canonical_spki(mbedtls_pk_context& pk) {
  unsigned char buf[160];
  const int n = mbedtls_pk_write_pubkey_der(&pk, buf, sizeof buf);  // writes at the end of buf
  if (n <= 0) return fail(error_code::crypto_error, "cannot encode the public key: " + mbedtls_text(n));
  return bytes(buf + sizeof buf - n, buf + sizeof buf);
}

bool looks_like_pem(std::string_view text) { return text.find("-----BEGIN ") != std::string_view::npos; }

bool is_private_pem(std::string_view text) { return text.find("PRIVATE KEY-----") != std::string_view::npos; }

std::string octal_mode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// Reads a key file through one descriptor, so the mode checked is the mode of the file read.
result<std::string> read_key_file(const fs::path& path, bool must_be_private) {
  fd_closer f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY)};
  if (f.fd < 0) return io_fail("cannot open", path);
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) return io_fail("cannot stat", path);
  if (!S_ISREG(st.st_mode)) return fail(error_code::io_error, path.string() + " is not a regular file");
  if (must_be_private && (st.st_mode & 077) != 0)
    return fail(error_code::insecure_key_file, "private key file " + path.string() + " has mode " +
                                                   octal_mode(st.st_mode) +
                                                   " (group or others have access); run: chmod 600 " + path.string());
  if (static_cast<std::size_t>(st.st_size) > max_key_file_bytes)
    return fail(error_code::invalid_key, path.string() + " is too large for a key file");
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(f.fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_fail("cannot read", path);
    if (n == 0) break;  // the file shrank under us: parse what is there
    got += static_cast<std::size_t>(n);
  }
  text.resize(got);
  return text;
}

result<void> write_all(int fd, std::string_view data, const fs::path& path) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_fail("cannot write", path);
    done += static_cast<std::size_t>(n);
  }
  return {};
}

// A new file next to the target. O_EXCL: never reuse a stale temp file or follow a planted symlink.
result<int> create_temp(const fs::path& target, mode_t mode, fs::path& tmp) {
  static std::atomic<unsigned> counter{0};
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  for (int attempt = 0; attempt < 100; ++attempt) {
    // Appended piece by piece: GCC 12 at -O3 reports a false -Wrestrict on the chained operator+ form.
    std::string name = ".";
    name += target.filename().string();
    name += ".tmp.";
    name += std::to_string(::getpid());
    name += '.';
    name += std::to_string(counter.fetch_add(1));
    tmp = dir / name;
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd >= 0) return fd;
    if (errno != EEXIST) return io_fail("cannot create", tmp);
  }
  return fail(error_code::io_error, "cannot find a free temporary name next to " + target.string());
}

result<void> fsync_dir(const fs::path& target) {
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  fd_closer d{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (d.fd < 0 || ::fsync(d.fd) != 0) return io_fail("cannot sync directory", dir);
  return {};
}

// Temp file, fsync, rename, fsync of the directory: a crash leaves the old file or the new one, never half of one.
result<void> write_atomically(const fs::path& path, std::string_view content, mode_t mode) {
  if (!path.has_filename()) return fail(error_code::invalid_argument, "no file name in " + path.string());
  fs::path tmp;
  auto fd = create_temp(path, mode, tmp);
  if (!fd) return fd.err();
  auto written = [&]() -> result<void> {
    fd_closer f{*fd};
    // open() applied the umask; fchmod makes the mode exact (0644 stays readable under umask 077).
    if (::fchmod(f.fd, mode) != 0) return io_fail("cannot chmod", tmp);
    if (auto w = write_all(f.fd, content, tmp); !w) return w;
    if (::fsync(f.fd) != 0) return io_fail("cannot sync", tmp);
    f.fd = -1;
    if (::close(*fd) != 0) return io_fail("cannot close", tmp);
    if (::rename(tmp.c_str(), path.c_str()) != 0) return io_fail("cannot rename into place", tmp);
    return {};
  }();
  if (!written) {
    ::unlink(tmp.c_str());
    return written;
  }
  return fsync_dir(path);
}

// The public half of a parsed private key, through the same canonical path as any received key.
result<public_key> public_half_of(mbedtls_pk_context& pk) {
  auto der = canonical_spki(pk);
  if (!der) return der.err();
  return public_key::from_spki_der(*der, /*require_canonical=*/true);
}

}  // namespace

// --- public_key ---

result<public_key> public_key::from_spki_der(byte_span der, bool require_canonical) {
  if (der.empty() || der.size() > max_spki_bytes) return fail(error_code::invalid_key, "SPKI DER is empty or too long");
  pk_holder pk;
  // Also checks that the point is on the curve. Mbed TLS 2.28 cannot read compressed points at all.
  const int rc = mbedtls_pk_parse_public_key(&pk.ctx, der.data(), der.size());
  if (rc != 0) return fail(error_code::invalid_key, "cannot parse SPKI DER: " + mbedtls_text(rc));
  if (auto p256 = require_p256(pk.ctx); !p256) return p256.err();
  auto canonical = canonical_spki(pk.ctx);
  if (!canonical) return canonical.err();
  // Mbed TLS accepts BER length forms (0x81 0x59 for 0x59), so several byte strings parse to one key: the byte
  // comparison is what gives a key exactly one key_id (protocol.md, "Identity and signatures").
  if (require_canonical && !std::equal(der.begin(), der.end(), canonical->begin(), canonical->end()))
    return fail(error_code::invalid_key,
                "SPKI DER is not canonical (named curve P-256, uncompressed point, no trailing bytes)");
  const mbedtls_ecp_keypair* kp = mbedtls_pk_ec(pk.ctx);
  unsigned char point[65];
  std::size_t point_len = 0;
  if (mbedtls_ecp_point_write_binary(&kp->grp, &kp->Q, MBEDTLS_ECP_PF_UNCOMPRESSED, &point_len, point, sizeof point) !=
          0 ||
      point_len != sizeof point)
    return fail(error_code::crypto_error, "cannot encode the public point");
  public_key key;
  key.spki_ = std::move(canonical).value();
  key.point_.assign(point, point + point_len);
  key.id_ = sha256_of(key.spki_);
  return key;
}

result<public_key> public_key::from_pem(std::string_view pem) {
  if (!looks_like_pem(pem)) return fail(error_code::invalid_key, "not PEM text");
  if (is_private_pem(pem)) {
    auto priv = private_key::from_pem(pem);
    if (!priv) return priv.err();
    return priv->public_half();
  }
  const std::string text(pem);  // Mbed TLS parses PEM only from a NUL-terminated buffer, NUL counted
  pk_holder pk;
  const int rc =
      mbedtls_pk_parse_public_key(&pk.ctx, reinterpret_cast<const unsigned char*>(text.c_str()), text.size() + 1);
  if (rc != 0) return fail(error_code::invalid_key, "cannot parse public key PEM: " + mbedtls_text(rc));
  if (auto p256 = require_p256(pk.ctx); !p256) return p256.err();
  auto der = canonical_spki(pk.ctx);  // a configured PEM key may use any encoding; its key_id is the canonical one
  if (!der) return der.err();
  return from_spki_der(*der, /*require_canonical=*/true);
}

result<public_key> public_key::load(const std::filesystem::path& path) {
  auto text = read_key_file(path, /*must_be_private=*/false);
  if (!text) return text.err();
  auto key = from_pem(*text);
  if (!key) return fail(key.code(), path.string() + ": " + key.err().message);
  return key;
}

std::string public_key::to_pem() const {
  if (spki_.empty()) return {};
  unsigned char buf[256];
  std::size_t olen = 0;  // counts the terminating NUL
  if (mbedtls_pem_write_buffer("-----BEGIN PUBLIC KEY-----\n", "-----END PUBLIC KEY-----\n", spki_.data(), spki_.size(),
                               buf, sizeof buf, &olen) != 0 ||
      olen == 0)
    return {};  // cannot happen for a 91-byte SPKI
  return std::string(reinterpret_cast<const char*>(buf), olen - 1);
}

// --- private_key ---

void private_key::pk_deleter::operator()(void* pk) const {
  auto* ctx = static_cast<mbedtls_pk_context*>(pk);
  mbedtls_pk_free(ctx);  // zeroizes the private scalar
  delete ctx;
}

private_key::private_key() = default;
private_key::~private_key() = default;
private_key::private_key(private_key&&) noexcept = default;
private_key& private_key::operator=(private_key&&) noexcept = default;

result<private_key> private_key::generate() {
  detail::mbedtls_random rng("ec_protocol key generation");
  if (rng.seed_error() != 0)
    return fail(error_code::crypto_error, "cannot seed the DRBG: " + mbedtls_text(rng.seed_error()));
  private_key key;
  auto* ctx = new mbedtls_pk_context;
  mbedtls_pk_init(ctx);
  key.pk_.reset(ctx);
  int rc = mbedtls_pk_setup(ctx, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
  if (rc == 0)
    rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*ctx), &detail::mbedtls_random::generate, &rng);
  if (rc != 0) return fail(error_code::crypto_error, "cannot generate a P-256 key: " + mbedtls_text(rc));
  auto pub = public_half_of(*ctx);
  if (!pub) return pub.err();
  key.public_ = std::move(pub).value();
  return key;
}

result<private_key> private_key::from_pem(std::string_view pem) {
  if (!looks_like_pem(pem)) return fail(error_code::invalid_key, "not PEM text");
  const secret_text text{std::string(pem)};  // NUL-terminated for Mbed TLS, wiped afterwards
  private_key key;
  auto* ctx = new mbedtls_pk_context;
  mbedtls_pk_init(ctx);
  key.pk_.reset(ctx);
  const int rc = mbedtls_pk_parse_key(ctx, reinterpret_cast<const unsigned char*>(text.text.c_str()),
                                      text.text.size() + 1, nullptr, 0);
  if (rc == MBEDTLS_ERR_PK_PASSWORD_REQUIRED)
    return fail(error_code::invalid_key, "encrypted private keys are not supported");
  if (rc != 0) return fail(error_code::invalid_key, "cannot parse private key PEM: " + mbedtls_text(rc));
  if (auto p256 = require_p256(*ctx); !p256) return p256.err();
  // Mbed TLS 2.28 takes a public key stored in the file as it is; a mismatched one would sign under a wrong key_id.
  const mbedtls_ecp_keypair* kp = mbedtls_pk_ec(*ctx);
  if (mbedtls_ecp_check_pub_priv(kp, kp) != 0)
    return fail(error_code::invalid_key, "the public key in the file does not match the private key");
  auto pub = public_half_of(*ctx);
  if (!pub) return pub.err();
  key.public_ = std::move(pub).value();
  return key;
}

result<private_key> private_key::load(const std::filesystem::path& path) {
  auto text = read_key_file(path, /*must_be_private=*/true);
  if (!text) return text.err();
  const secret_text wiped{std::move(text).value()};
  auto key = from_pem(wiped.text);
  if (!key) return fail(key.code(), path.string() + ": " + key.err().message);
  return key;
}

result<std::string> private_key::to_pem() const {
  if (!pk_) return fail(error_code::invalid_argument, "empty private key");
  unsigned char buf[1024];
  const int rc = mbedtls_pk_write_key_pem(static_cast<mbedtls_pk_context*>(pk_.get()), buf, sizeof buf);
  std::string pem = rc == 0 ? std::string(reinterpret_cast<const char*>(buf)) : std::string();
  mbedtls_platform_zeroize(buf, sizeof buf);
  if (rc != 0) return fail(error_code::crypto_error, "cannot encode the private key: " + mbedtls_text(rc));
  return pem;
}

result<void> private_key::save(const std::filesystem::path& path) const {
  auto pem = to_pem();
  if (!pem) return pem.err();
  const secret_text wiped{std::move(pem).value()};
  return write_atomically(path, wiped.text, 0600);
}

// --- free functions ---

std::string agent_id_of(const key_id& id) { return to_hex(byte_span(id.data(), 16)); }

result<void> save_public_key(const public_key& key, const std::filesystem::path& path) {
  if (key.spki_der().empty()) return fail(error_code::invalid_argument, "empty public key");
  return write_atomically(path, key.to_pem(), 0644);
}

}  // namespace ec::protocol
