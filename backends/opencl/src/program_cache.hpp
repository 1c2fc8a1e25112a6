// A bounded on-disk cache of OpenCL program binaries, so a restarted agent skips the driver's compiler
// (PoCL: ~0.7 s per program cold). One file per key; least recently used files go first when over the bound.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>

#include "ec/protocol/bytes.hpp"
#include "ec/protocol/error.hpp"

namespace ec::backends::opencl {

/// What a binary was built from; all of it goes into the key, so another driver's binary is never looked up.
struct program_identity {
  std::string_view source;
  std::string_view options;
  std::string_view device_name;
  std::string_view driver_version;
  std::string_view platform_version;
};

/// sha256 over every field, each prefixed with its length (so ("ab","c") and ("a","bc") differ).
protocol::sha256_digest program_key(const program_identity& id);

class program_cache {
 public:
  /// An empty `dir` disables the cache (load misses, store does nothing).
  program_cache(std::filesystem::path dir, std::uint64_t max_bytes);

  [[nodiscard]] bool enabled() const { return !dir_.empty(); }
  /// The file that holds `key` ("<hex>.clbin").
  [[nodiscard]] std::filesystem::path path_for(const protocol::sha256_digest& key) const;
  /// The binary stored under `key`, or nothing when absent, truncated, for another key or failing its checksum.
  /// A hit refreshes the file's mtime, which is the eviction order.
  std::optional<protocol::bytes> load(const protocol::sha256_digest& key) const;
  /// Writes atomically (temp file, fsync, rename, fsync of the folder), replacing any older file, then evicts.
  result<void> store(const protocol::sha256_digest& key, protocol::byte_span binary) const;
  /// Removes the oldest files until the folder's .clbin files total at most max_bytes.
  void evict() const;

 private:
  std::filesystem::path dir_;
  std::uint64_t max_bytes_;
};

}  // namespace ec::backends::opencl
