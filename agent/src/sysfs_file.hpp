// Small, bounded reads of sysfs and procfs files for the owner policy and the energy meter: a missing or odd file
// is "not known", never an error and never a crash.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace ec::agent::detail {

/// The first line of a small file, trimmed; nothing when it cannot be read.
std::optional<std::string> read_sysfs_line(const std::filesystem::path& file);
/// The file's first line as a whole number; nothing when absent or not a number.
std::optional<long long> read_sysfs_integer(const std::filesystem::path& file);
/// The entries of a folder whose names start with prefix, sorted; none when the folder is missing.
std::vector<std::filesystem::path> sysfs_entries(const std::filesystem::path& dir, std::string_view prefix);
/// root joined with a path written from "/" ("sys/class/thermal"); keeps root when it is "/".
std::filesystem::path under_root(const std::filesystem::path& root, std::string_view relative);

}  // namespace ec::agent::detail
