// The built module: no libvulkan in its NEEDED entries (the loader is dlopened by volk at run time), and it
// loads with dlopen and exports the two entry points with the current API version.
#include <dlfcn.h>
#include <doctest/doctest.h>
#include <elf.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "ec/backends/module_abi.hpp"

namespace {

const std::string module_path = std::string(EC_MODULE_DIR) + "/libec_backend_vulkan.so";

// DT_NEEDED entries of a 64-bit little-endian ELF file, read from its section headers.
std::vector<std::string> needed_libraries(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::vector<char> f((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(f.size() > sizeof(Elf64_Ehdr));
  Elf64_Ehdr eh;
  std::memcpy(&eh, f.data(), sizeof eh);
  REQUIRE(std::memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0);
  REQUIRE(eh.e_ident[EI_CLASS] == ELFCLASS64);
  const auto section = [&](std::size_t i) {
    Elf64_Shdr sh;
    REQUIRE(eh.e_shoff + (i + 1) * sizeof sh <= f.size());
    std::memcpy(&sh, f.data() + eh.e_shoff + i * sizeof sh, sizeof sh);
    return sh;
  };
  std::vector<std::string> out;
  for (std::size_t i = 0; i < eh.e_shnum; ++i) {
    const auto dyn = section(i);
    if (dyn.sh_type != SHT_DYNAMIC) continue;
    const auto strtab = section(dyn.sh_link);
    for (std::size_t off = 0; off + sizeof(Elf64_Dyn) <= dyn.sh_size; off += sizeof(Elf64_Dyn)) {
      Elf64_Dyn d;
      std::memcpy(&d, f.data() + dyn.sh_offset + off, sizeof d);
      if (d.d_tag == DT_NULL) break;
      if (d.d_tag == DT_NEEDED) out.emplace_back(f.data() + strtab.sh_offset + d.d_un.d_val);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("the vulkan module does not link libvulkan") {
  const auto needed = needed_libraries(module_path);
  REQUIRE_FALSE(needed.empty());  // libc at least: proves the parser found the dynamic section
  for (const auto& lib : needed) {
    CAPTURE(lib);
    CHECK(lib.find("vulkan") == std::string::npos);
  }
}

TEST_CASE("the vulkan module loads with dlopen, reports the API version and creates a working backend") {
  void* h = ::dlopen(module_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  REQUIRE_MESSAGE(h != nullptr, ::dlerror());
  const auto version = reinterpret_cast<ec_backend_api_version_fn>(::dlsym(h, EC_BACKEND_API_VERSION_SYMBOL));
  const auto create = reinterpret_cast<ec_backend_create_fn>(::dlsym(h, EC_BACKEND_CREATE_SYMBOL));
  REQUIRE((version != nullptr && create != nullptr));
  CHECK(version() == EC_BACKEND_API_VERSION);
  CHECK(::dlsym(h, "volkInitialize") == nullptr);  // third-party symbols stay inside the module
  {
    ec::backends::backend_options options;
    options.validation = true;
    std::unique_ptr<ec::backends::backend> b(create(&options));
    REQUIRE(b != nullptr);
    CHECK(b->name() == "vulkan");
    REQUIRE_MESSAGE(!b->devices().empty(), b->why_unavailable());
    CHECK(b->devices().front()->info().backend == "vulkan");
  }
  ::dlclose(h);
}
