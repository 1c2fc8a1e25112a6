// Bounded, non-throwing file reads under the configurable sysfs root.
#include "sysfs_file.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>

namespace ec::agent::detail {

std::optional<std::string> read_sysfs_line(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  // sysfs values are one short line; a bounded read keeps a huge or endless file (a fake root) harmless.
  std::string line(256, '\0');
  in.read(line.data(), static_cast<std::streamsize>(line.size()));
  line.resize(static_cast<std::size_t>(in.gcount()));
  line = line.substr(0, line.find('\n'));
  while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
  const auto first =
      std::find_if(line.begin(), line.end(), [](char c) { return !std::isspace(static_cast<unsigned char>(c)); });
  line.erase(line.begin(), first);
  return line;
}

std::optional<long long> read_sysfs_integer(const std::filesystem::path& file) {
  const auto line = read_sysfs_line(file);
  if (!line || line->empty()) return std::nullopt;
  long long v = 0;
  const auto [ptr, err] = std::from_chars(line->data(), line->data() + line->size(), v);
  if (err != std::errc{} || ptr != line->data() + line->size()) return std::nullopt;
  return v;
}

std::vector<std::filesystem::path> sysfs_entries(const std::filesystem::path& dir, std::string_view prefix) {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().filename().string().starts_with(prefix)) out.push_back(it->path());
  std::sort(out.begin(), out.end());
  return out;
}

std::filesystem::path under_root(const std::filesystem::path& root, std::string_view relative) {
  return root / std::filesystem::path(relative).relative_path();
}

}  // namespace ec::agent::detail
