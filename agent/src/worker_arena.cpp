// memfd + mmap. MAP_SHARED pages do not count against the worker's RLIMIT_DATA, so the limit bounds what a
// kernel or driver allocates, not the tensors the supervisor hands over.
#include "worker_arena.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

namespace ec::agent::worker {
namespace {

constexpr std::uint64_t step = 1 << 20;

error sys_error(const char* what) {
  return fail(error_code::io_error, std::string(what) + ": " + std::strerror(errno));
}

}  // namespace

result<shared_arena> shared_arena::create(std::uint64_t bytes) {
  const int fd = ::memfd_create("ec-worker-arena", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return sys_error("memfd_create");
  shared_arena a(fd);
  if (::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) != 0) return sys_error("F_ADD_SEALS");
  if (auto r = a.ensure(bytes); !r) return r.err();
  return a;
}

shared_arena& shared_arena::operator=(shared_arena&& o) noexcept {
  if (this == &o) return *this;
  this->~shared_arena();
  fd_ = std::exchange(o.fd_, -1);
  base_ = std::exchange(o.base_, nullptr);
  size_ = std::exchange(o.size_, 0);
  return *this;
}

shared_arena::~shared_arena() {
  if (base_) ::munmap(base_, size_);
  if (fd_ >= 0) ::close(fd_);
  base_ = nullptr;
  fd_ = -1;
  size_ = 0;
}

result<void> shared_arena::remap(std::uint64_t bytes) {
  if (base_) ::munmap(base_, size_);
  base_ = nullptr;
  size_ = 0;
  if (bytes == 0) return {};
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (p == MAP_FAILED) return sys_error("mmap");
  base_ = static_cast<std::uint8_t*>(p);
  size_ = bytes;
  return {};
}

result<void> shared_arena::ensure(std::uint64_t bytes) {
  if (bytes <= size_) return {};
  const auto want = (bytes + step - 1) / step * step;
  if (::ftruncate(fd_, static_cast<off_t>(want)) != 0) return sys_error("ftruncate");
  return remap(want);
}

result<void> shared_arena::map(std::uint64_t bytes) {
  if (bytes == size_) return {};
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return sys_error("fstat");
  if (static_cast<std::uint64_t>(st.st_size) < bytes)
    return fail(error_code::malformed,
                "arena of " + std::to_string(st.st_size) + " bytes, request says " + std::to_string(bytes));
  return remap(bytes);
}

}  // namespace ec::agent::worker
