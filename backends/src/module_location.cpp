// Install-relative module lookup. The executable or library that holds the registry is located with dladdr1, so
// libedge_agent.so finds the modules of its own install even when the host application lives elsewhere.
#include "ec/backends/module_location.hpp"

#include <dlfcn.h>
#include <link.h>

#include <algorithm>
#include <iterator>
#include <vector>

namespace ec::backends {

namespace fs = std::filesystem;

install_layout built_in_install_layout() {
#if defined(EC_INSTALL_BINDIR) && defined(EC_INSTALL_LIBDIR) && defined(EC_INSTALL_MODULEDIR)
  return {EC_INSTALL_BINDIR, EC_INSTALL_LIBDIR, EC_INSTALL_MODULEDIR};
#else
  return {};
#endif
}

namespace {

// The prefix that `dir` is `sub` of ("/usr" for "/usr/bin" and "bin"); empty when it is not.
fs::path prefix_of(const fs::path& dir, const fs::path& sub) {
  if (sub.empty()) return {};
  if (sub.is_absolute()) return dir == sub.lexically_normal() ? fs::path("/") : fs::path();
  std::vector<fs::path> dir_parts(dir.begin(), dir.end());
  std::vector<fs::path> sub_parts(sub.begin(), sub.end());
  if (sub_parts.size() >= dir_parts.size()) return {};
  const auto tail = dir_parts.end() - static_cast<std::ptrdiff_t>(sub_parts.size());
  if (!std::equal(sub_parts.begin(), sub_parts.end(), tail)) return {};
  fs::path prefix;
  for (auto it = dir_parts.begin(); it != tail; ++it) prefix /= *it;
  return prefix;
}

}  // namespace

fs::path installed_module_dir(const fs::path& binary_dir, const install_layout& layout) {
  if (binary_dir.empty() || layout.moduledir.empty()) return {};
  auto dir = binary_dir.lexically_normal();
  if (!dir.has_filename()) dir = dir.parent_path();  // "/usr/bin/": a trailing separator is an empty last part
  for (const auto* sub : {&layout.bindir, &layout.libdir}) {
    // operator/ keeps an absolute moduledir as it is.
    if (auto prefix = prefix_of(dir, sub->lexically_normal()); !prefix.empty()) return prefix / layout.moduledir;
  }
  return {};
}

fs::path this_binary_dir() {
  Dl_info info{};
  link_map* map = nullptr;
  void* const self_symbol = reinterpret_cast<void*>(&this_binary_dir);
  const int found = ::dladdr1(self_symbol, &info, reinterpret_cast<void**>(&map), RTLD_DL_LINKMAP);
  if (found == 0 || map == nullptr) return {};
  // The main program's link map has an empty name: the kernel knows its path.
  const fs::path self = (map->l_name && *map->l_name) ? fs::path(map->l_name) : fs::path("/proc/self/exe");
  std::error_code ec;
  const auto resolved = fs::canonical(self, ec);
  return ec ? fs::path() : resolved.parent_path();
}

}  // namespace ec::backends
