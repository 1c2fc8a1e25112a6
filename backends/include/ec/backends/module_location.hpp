// Where an installed agent's backend modules are: found from the install prefix of the running binary, so a
// relocated install (a package, a firmware image, `cmake --install --prefix`) loads its own modules unconfigured.
#pragma once

#include <filesystem>

namespace ec::backends {

/// An install layout, each folder relative to the install prefix (or absolute), as GNUInstallDirs chose it.
struct install_layout {
  std::filesystem::path bindir;     // "bin"
  std::filesystem::path libdir;     // "lib", "lib/aarch64-linux-gnu"
  std::filesystem::path moduledir;  // "lib/edgecompute/modules"
};

/// The layout this build installs with; every folder empty when the build has no install rules.
install_layout built_in_install_layout();

/// The module folder of an install whose bindir or libdir is `binary_dir`; empty when `binary_dir` is neither
/// (a build tree), or the layout is empty.
std::filesystem::path installed_module_dir(const std::filesystem::path& binary_dir, const install_layout& layout);

/// The folder of the executable or shared library holding this code, symlinks resolved; empty if unknown.
std::filesystem::path this_binary_dir();

}  // namespace ec::backends
