// File format: "ECVKPC01" | u64 LE blob size | SHA-256 of the blob | the blob from vkGetPipelineCacheData.
// Drivers must reject a foreign blob, but a cache file is outside input that some drivers parse carelessly:
// the digest catches torn or corrupted files, and the Vulkan header check (vendor, device, pipelineCacheUUID)
// catches a driver update or another GPU, before the driver ever sees the bytes.
#include "pipeline_cache.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>

#include "ec/protocol/sha256.hpp"

namespace ec::backends::vulkan {
namespace {

constexpr char magic[8] = {'E', 'C', 'V', 'K', 'P', 'C', '0', '1'};
constexpr std::uint32_t vk_header_bytes = 32;  // sizeof(VkPipelineCacheHeaderVersionOne)
constexpr std::uint32_t vk_header_version_one = 1;

std::uint32_t read_u32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24;
}

std::uint64_t read_u64(const std::uint8_t* p) { return read_u32(p) | std::uint64_t{read_u32(p + 4)} << 32; }

// Writes all of `data` to a fresh temp file next to `path`, fsyncs it, renames it over `path` and fsyncs the
// folder: readers see the old file or the new one, never a torn one, even across a power cut.
result<void> write_atomically(const std::filesystem::path& path, std::span<const std::uint8_t> data) {
  static std::atomic<unsigned> counter{0};
  const auto tmp = path.string() + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return fail(error_code::io_error, "cannot create " + tmp + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  const bool ok = done == data.size() && ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return fail(error_code::io_error, "cannot write " + path.string() + ": " + std::strerror(ok ? errno : err));
  }
  if (const int dir = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return {};
}

}  // namespace

std::string pipeline_cache_file_name(std::span<const std::uint8_t> device_uuid) {
  return "vulkan-" + protocol::to_hex(device_uuid) + ".pipelines";
}

pipeline_cache_file::pipeline_cache_file(std::filesystem::path path, std::uint64_t max_bytes, cache_identity identity)
    : path_(std::move(path)), max_bytes_(max_bytes), identity_(identity) {}

bool pipeline_cache_file::valid_vulkan_header(std::span<const std::uint8_t> blob) const {
  if (blob.size() < vk_header_bytes) return false;
  const std::uint32_t size = read_u32(blob.data()), version = read_u32(blob.data() + 4);
  return size >= vk_header_bytes && size <= blob.size() && version == vk_header_version_one &&
         read_u32(blob.data() + 8) == identity_.vendor_id && read_u32(blob.data() + 12) == identity_.device_id &&
         std::memcmp(blob.data() + 16, identity_.pipeline_cache_uuid.data(), 16) == 0;
}

std::vector<std::uint8_t> pipeline_cache_file::load() {
  note_.clear();
  if (path_.empty()) return {};
  std::error_code ec;
  const auto size = std::filesystem::file_size(path_, ec);
  if (ec) return {};  // no file yet
  if (size > max_bytes_) {
    note_ = "cache file larger than cache_max_bytes: removed";
    std::filesystem::remove(path_, ec);
    return {};
  }
  std::ifstream in(path_, std::ios::binary);
  std::vector<std::uint8_t> file(size);
  if (!in.read(reinterpret_cast<char*>(file.data()), static_cast<std::streamsize>(size))) {
    note_ = "cache file unreadable";
    return {};
  }
  if (size < header_bytes || std::memcmp(file.data(), magic, sizeof magic) != 0 ||
      read_u64(file.data() + 8) != size - header_bytes) {
    note_ = "cache file truncated or not ours";
    return {};
  }
  const std::span<const std::uint8_t> blob(file.data() + header_bytes, size - header_bytes);
  const auto digest = protocol::sha256_of(blob);
  if (std::memcmp(digest.data(), file.data() + 16, digest.size()) != 0) {
    note_ = "cache file corrupted (digest mismatch)";
    return {};
  }
  if (!valid_vulkan_header(blob)) {
    note_ = "cache file from another device or driver version";
    return {};
  }
  return {blob.begin(), blob.end()};
}

result<bool> pipeline_cache_file::save(std::span<const std::uint8_t> blob) {
  if (path_.empty()) return false;
  std::error_code ec;
  if (header_bytes + blob.size() > max_bytes_) {
    // A VkPipelineCache blob is opaque: entries cannot be evicted one by one, so the bound applies to the whole.
    if (std::filesystem::file_size(path_, ec) > max_bytes_ && !ec) std::filesystem::remove(path_, ec);
    return false;
  }
  std::filesystem::create_directories(path_.parent_path(), ec);
  if (ec) return fail(error_code::io_error, "cannot create " + path_.parent_path().string() + ": " + ec.message());
  std::vector<std::uint8_t> file(header_bytes);
  std::memcpy(file.data(), magic, sizeof magic);
  for (int i = 0; i < 8; ++i) file[8 + i] = static_cast<std::uint8_t>(std::uint64_t{blob.size()} >> (8 * i));
  const auto digest = protocol::sha256_of(blob);
  std::memcpy(file.data() + 16, digest.data(), digest.size());
  file.insert(file.end(), blob.begin(), blob.end());
  if (auto r = write_atomically(path_, file); !r) return r.err();
  return true;
}

}  // namespace ec::backends::vulkan
