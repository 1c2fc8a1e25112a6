// Program-binary cache files. Format (little-endian): "ECCLBIN1", the 32-byte key, the payload length (u64),
// the payload's sha256, the payload. The checksum catches a torn or bit-rotted file before the driver sees it;
// a binary the driver still rejects is rebuilt from source by the caller and overwritten here.
#include "program_cache.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "ec/protocol/sha256.hpp"

namespace ec::backends::opencl {
namespace fs = std::filesystem;
namespace {

constexpr char magic[8] = {'E', 'C', 'C', 'L', 'B', 'I', 'N', '1'};
constexpr std::size_t header_bytes = sizeof magic + 32 + 8 + 32;
constexpr std::string_view extension = ".clbin";
// A temp file this old was left by a crash between write and rename.
constexpr auto stale_temp_age = std::chrono::minutes(10);

void put_u64(protocol::bytes& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

std::uint64_t get_u64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= std::uint64_t{p[i]} << (8 * i);
  return v;
}

bool write_all(int fd, const std::uint8_t* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

error io_fail(const std::string& what, const fs::path& path) {
  return fail(error_code::io_error, what + " " + path.string() + ": " + std::strerror(errno));
}

}  // namespace

protocol::sha256_digest program_key(const program_identity& id) {
  protocol::sha256 h;
  for (std::string_view part : {std::string_view("ec-opencl-program-v1"), id.source, id.options, id.device_name,
                                id.driver_version, id.platform_version}) {
    h.update_u64_le(part.size());
    h.update(protocol::as_bytes(part));
  }
  return h.finish();
}

program_cache::program_cache(fs::path dir, std::uint64_t max_bytes) : dir_(std::move(dir)), max_bytes_(max_bytes) {}

fs::path program_cache::path_for(const protocol::sha256_digest& key) const {
  return dir_ / (protocol::to_hex(key) + std::string(extension));
}

std::optional<protocol::bytes> program_cache::load(const protocol::sha256_digest& key) const {
  if (!enabled()) return std::nullopt;
  const auto path = path_for(key);
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  protocol::bytes file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (file.size() < header_bytes || std::memcmp(file.data(), magic, sizeof magic) != 0) return std::nullopt;
  if (!std::equal(key.begin(), key.end(), file.begin() + sizeof magic)) return std::nullopt;
  const std::uint64_t length = get_u64(file.data() + sizeof magic + 32);
  if (length != file.size() - header_bytes) return std::nullopt;
  protocol::bytes payload(file.begin() + header_bytes, file.end());
  const auto digest = protocol::sha256_of(payload);
  if (!std::equal(digest.begin(), digest.end(), file.begin() + sizeof magic + 40)) return std::nullopt;
  std::error_code ec;
  fs::last_write_time(path, fs::file_time_type::clock::now(), ec);  // LRU order; a read-only folder still hits
  return payload;
}

result<void> program_cache::store(const protocol::sha256_digest& key, protocol::byte_span binary) const {
  if (!enabled()) return {};
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return fail(error_code::io_error, "cannot create " + dir_.string() + ": " + ec.message());

  protocol::bytes file(magic, magic + sizeof magic);
  file.insert(file.end(), key.begin(), key.end());
  put_u64(file, binary.size());
  const auto digest = protocol::sha256_of(binary);
  file.insert(file.end(), digest.begin(), digest.end());
  file.insert(file.end(), binary.begin(), binary.end());

  // Unique per process and call: two devices (or agents) storing the same key never share a temp file.
  static std::atomic<std::uint64_t> counter{0};
  const auto final_path = path_for(key);
  const auto temp =
      fs::path(final_path.string() + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1)));
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return io_fail("cannot create", temp);
  const bool written = write_all(fd, file.data(), file.size()) && ::fsync(fd) == 0;
  const int saved_errno = errno;
  ::close(fd);
  if (!written) {
    errno = saved_errno;
    auto err = io_fail("cannot write", temp);
    fs::remove(temp, ec);
    return err;
  }
  // rename() replaces a corrupt or foreign file in one step: readers see the old file or the new, never half.
  if (::rename(temp.c_str(), final_path.c_str()) != 0) {
    auto err = io_fail("cannot rename onto", final_path);
    fs::remove(temp, ec);
    return err;
  }
  // The rename is durable only once the folder's entry is on disk.
  if (const int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  evict();
  return {};
}

void program_cache::evict() const {
  if (!enabled()) return;
  struct entry {
    fs::path path;
    std::uint64_t size;
    fs::file_time_type mtime;
  };
  std::vector<entry> entries;
  std::uint64_t total = 0;
  std::error_code ec;
  const auto now = fs::file_time_type::clock::now();
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const auto& path = it->path();
    const auto name = path.filename().string();
    std::error_code e2;
    const auto mtime = fs::last_write_time(path, e2);
    if (e2) continue;
    if (name.find(".tmp.") != std::string::npos) {
      if (now - mtime > stale_temp_age) fs::remove(path, e2);
      continue;
    }
    if (path.extension() != extension) continue;  // not ours: never deleted
    const auto size = fs::file_size(path, e2);
    if (e2) continue;
    entries.push_back({path, size, mtime});
    total += size;
  }
  if (total <= max_bytes_) return;
  std::sort(entries.begin(), entries.end(), [](const entry& a, const entry& b) { return a.mtime < b.mtime; });
  // Oldest first; a single file larger than the bound goes too, so the bound always holds.
  for (const auto& e : entries) {
    if (total <= max_bytes_) break;
    std::error_code e2;
    if (fs::remove(e.path, e2)) total -= e.size;
  }
}

}  // namespace ec::backends::opencl
