// File helpers for durable state (see durable_file.hpp).
#include "durable_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

namespace ec::agent::detail {

namespace fs = std::filesystem;

error io_fail(std::string_view what, const fs::path& path, int err) {
  return fail(error_code::io_error, std::string(what) + " " + path.string() + ": " + std::strerror(err));
}

result<void> write_all_at(int fd, protocol::byte_span data, std::uint64_t offset, const fs::path& path) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return io_fail("cannot write", path, n < 0 ? errno : EIO);
    done += static_cast<std::size_t>(n);
  }
  return {};
}

result<void> fsync_dir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_fail("cannot open directory", dir, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return io_fail("cannot fsync directory", dir, err);
  return {};
}

result<void> write_file_durably(const fs::path& path, protocol::byte_span data) {
  fs::path tmp = path;
  tmp += ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return io_fail("cannot create", tmp, errno);
  auto written = write_all_at(fd, data, 0, tmp);
  if (written && ::fsync(fd) != 0) written = io_fail("cannot fsync", tmp, errno);
  ::close(fd);
  if (!written) {
    ::unlink(tmp.c_str());
    return written;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return io_fail("cannot rename into", path, err);
  }
  return fsync_dir(path.parent_path().empty() ? fs::path(".") : path.parent_path());
}

result<protocol::bytes> read_file(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_fail("cannot open", path, errno);
  protocol::bytes out;
  std::uint8_t chunk[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return io_fail("cannot read", path, err);
    }
    if (n == 0) break;
    out.insert(out.end(), chunk, chunk + n);
  }
  ::close(fd);
  return out;
}

result<void> ensure_dir(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return {};
  if (!fs::create_directories(dir, ec) && ec) return io_fail("cannot create directory", dir, ec.value());
  const fs::path parent = dir.has_parent_path() ? dir.parent_path() : fs::path(".");
  return fsync_dir(parent);
}

}  // namespace ec::agent::detail
