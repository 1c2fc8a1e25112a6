// The shared-memory arena of one worker: a memfd both processes map. The supervisor writes inputs and reads
// outputs; it grows the file and never lets it shrink (F_SEAL_SHRINK), so a worker cannot truncate it under
// the supervisor's mapping and make it fault (SIGBUS) while copying outputs out.
#pragma once

#include <cstdint>
#include <span>

#include "ec/protocol/error.hpp"

namespace ec::agent::worker {

class shared_arena {
 public:
  /// Supervisor side: a new memfd of `bytes`, sealed against shrinking, mapped read-write.
  static result<shared_arena> create(std::uint64_t bytes);
  /// Worker side: adopts an inherited memfd; map() before use.
  static shared_arena adopt(int fd) { return shared_arena(fd); }
  shared_arena() = default;
  shared_arena(shared_arena&& o) noexcept { *this = std::move(o); }
  shared_arena& operator=(shared_arena&& o) noexcept;
  ~shared_arena();

  /// Supervisor: makes the file and the mapping at least `bytes` long (rounded up to 1 MiB steps).
  result<void> ensure(std::uint64_t bytes);
  /// Worker: maps `bytes` after checking the file is that long (the supervisor grew it first).
  result<void> map(std::uint64_t bytes);
  /// The mapping (empty before the first map or ensure).
  [[nodiscard]] std::span<std::uint8_t> data() const { return {base_, size_}; }
  [[nodiscard]] int fd() const { return fd_; }

 private:
  explicit shared_arena(int fd) : fd_(fd) {}
  result<void> remap(std::uint64_t bytes);
  int fd_ = -1;
  std::uint8_t* base_ = nullptr;
  std::uint64_t size_ = 0;
};

}  // namespace ec::agent::worker
