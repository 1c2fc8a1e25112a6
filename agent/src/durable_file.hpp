// File helpers for durable state: errors that name the path and errno, full writes, fsync of a directory.
#pragma once

#include <filesystem>
#include <string_view>

#include "ec/protocol/bytes.hpp"
#include "ec/protocol/error.hpp"

namespace ec::agent::detail {

/// io_error "<what> <path>: <strerror(err)>".
error io_fail(std::string_view what, const std::filesystem::path& path, int err);

/// pwrite()s all of data at offset, retrying short writes and EINTR.
result<void> write_all_at(int fd, protocol::byte_span data, std::uint64_t offset, const std::filesystem::path& path);

/// fsync()s a directory so that a create, rename or unlink inside it survives a power cut.
result<void> fsync_dir(const std::filesystem::path& dir);

/// Writes a whole file atomically and durably: <path>.tmp, fsync, rename, fsync the directory.
result<void> write_file_durably(const std::filesystem::path& path, protocol::byte_span data);

/// Reads a whole file.
result<protocol::bytes> read_file(const std::filesystem::path& path);

/// Creates a directory (and its parents) if missing, and fsyncs its parent when it had to create it.
result<void> ensure_dir(const std::filesystem::path& dir);

}  // namespace ec::agent::detail
