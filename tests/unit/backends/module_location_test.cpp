// Install-relative module lookup: an installed agent or libedge_agent.so finds its own install's modules, a build
// tree's binary keeps the build tree's folder.
#include "ec/backends/module_location.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>

#include "ec/backends/registry.hpp"

using namespace ec::backends;
namespace fs = std::filesystem;

namespace {

const install_layout debian_layout{"bin", "lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu/edgecompute/modules"};

}  // namespace

TEST_CASE("a binary in the install's bindir finds the modules under the same prefix") {
  CHECK(installed_module_dir("/opt/ec/bin", debian_layout) == "/opt/ec/lib/x86_64-linux-gnu/edgecompute/modules");
  CHECK(installed_module_dir("/usr/bin/", debian_layout) == "/usr/lib/x86_64-linux-gnu/edgecompute/modules");
}

TEST_CASE("a library in a multiarch libdir finds the modules under the same prefix") {
  CHECK(installed_module_dir("/usr/lib/x86_64-linux-gnu", debian_layout) ==
        "/usr/lib/x86_64-linux-gnu/edgecompute/modules");
}

TEST_CASE("a folder that is neither bindir nor libdir has no install modules") {
  CHECK(installed_module_dir("/home/dev/edgecompute/build/agent", debian_layout).empty());
  CHECK(installed_module_dir("/usr/sbin", debian_layout).empty());  // "sbin" is not "bin": whole names only
  CHECK(installed_module_dir("/usr/lib", debian_layout).empty());   // the libdir is multiarch here
  CHECK(installed_module_dir("bin", debian_layout).empty());        // no prefix left
  CHECK(installed_module_dir("", debian_layout).empty());
}

TEST_CASE("an empty layout (a build without install rules) never claims an install") {
  CHECK(installed_module_dir("/usr/bin", install_layout{}).empty());
}

TEST_CASE("absolute install folders match only themselves") {
  const install_layout absolute{"/opt/agent/bin", "/opt/agent/lib", "/opt/agent/modules"};
  CHECK(installed_module_dir("/opt/agent/bin", absolute) == "/opt/agent/modules");
  CHECK(installed_module_dir("/usr/opt/agent/bin", absolute).empty());
}

TEST_CASE("this_binary_dir names the folder of the running test executable") {
  CHECK(this_binary_dir() == fs::canonical("/proc/self/exe").parent_path());
}

TEST_CASE("a binary run from the build tree keeps the build tree's module folder") {
  REQUIRE(std::getenv("EC_BACKEND_PATH") == nullptr);
  CHECK(default_module_dir() == fs::path(EC_MODULE_DIR));
}
