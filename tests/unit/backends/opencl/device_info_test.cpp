// Device discovery on PoCL, the why_unavailable() sentences, and the process-wide PoCL cache folder.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "cl_errors.hpp"
#include "opencl_test_support.hpp"

namespace ec::backends::opencl::test {
namespace {

// Set in a child copy of this binary that must see PoCL without a usable cache folder.
constexpr const char* no_pocl_cache_child = "EC_OPENCL_TEST_UNWRITABLE_POCL_CACHE";
constexpr const char* no_pocl_cache_case = "child: PoCL without a writable cache folder explains itself";

// PoCL reads POCL_CACHE_DIR once, when the ICD loader first initialises it, and hides its device when it
// cannot create the folder: point it at a fresh folder before any OpenCL call (static initialisation runs
// before doctest's main), and remove the folder when the binary exits.
struct pocl_cache_folder {
  std::filesystem::path path;
  pocl_cache_folder() {
    if (std::getenv(no_pocl_cache_child)) return;  // the child keeps the unwritable folder it was given
    char pattern[] = "/tmp/ec-opencl-tests-pocl-XXXXXX";
    if (const char* made = ::mkdtemp(pattern)) {
      path = made;
      ::setenv("POCL_CACHE_DIR", made, 1);
    }
  }
  ~pocl_cache_folder() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
};
const pocl_cache_folder pocl_cache;

}  // namespace

TEST_CASE("the test binary gives PoCL a fresh cache folder of its own") {
  if (std::getenv(no_pocl_cache_child)) return;
  REQUIRE_FALSE(pocl_cache.path.empty());
  const char* env = std::getenv("POCL_CACHE_DIR");
  REQUIRE(env != nullptr);
  CHECK(std::filesystem::path(env) == pocl_cache.path);
}

TEST_CASE("PoCL is found as a CPU device with OpenCL C 1.2 and fp64") {
  auto& backend = shared_backend();
  CHECK(backend.name() == "opencl");
  CHECK(backend.why_unavailable().empty());
  const auto& dev = pocl_device(backend);
  const auto& info = dev.info();
  const auto& facts = dev.facts();
  MESSAGE("device " << dev.id() << ": " << info.name << " | " << info.driver);
  CHECK(info.backend == "opencl");
  CHECK(dev.id().rfind("opencl:", 0) == 0);
  const auto id = dev.id();
  CHECK(std::count(id.begin(), id.end(), ':') == 2);
  CHECK_FALSE(info.name.empty());
  CHECK(info.type == protocol::device_type::cpu);
  // The platform says 3.0; kernels are compiled for the device's OpenCL C, which is 1.2 on PoCL 3.1.
  CHECK(facts.opencl_c_version.rfind("OpenCL C 1.2", 0) == 0);
  CHECK(facts.c_major == 1);
  CHECK(facts.c_minor == 2);
  CHECK(dev.build_options() == "-cl-std=CL1.2");
  CHECK(info.fp64);
  CHECK_FALSE(info.fp16);
  CHECK(info.int8);
  CHECK(info.driver.find(facts.driver_version) != std::string::npos);
  CHECK(info.driver.find("Portable Computing Language") != std::string::npos);
  CHECK((info.uuid.empty() || info.uuid.size() == 16));
  CHECK(info.memory_bytes > 0);
  CHECK(info.max_buffer_bytes > 0);
  CHECK(info.max_buffer_bytes <= info.memory_bytes);
  CHECK(info.max_workgroup_size >= 256);
  CHECK(info.shared_memory_bytes > 0);
  CHECK(dev.supports(*kernels::find_kernel("saxpy")));
}

TEST_CASE("every catalogue kernel with OpenCL C is supported on PoCL") {
  const auto& dev = pocl_device();
  for (const auto* spec : kernels::catalog()) {
    INFO(spec->name);
    CHECK(dev.supports(*spec) == !spec->opencl_source.empty());
  }
}

TEST_CASE(no_pocl_cache_case) {
  if (!std::getenv(no_pocl_cache_child)) return;  // runs only in the child spawned below
  opencl_backend backend{backend_options{}};
  REQUIRE(backend.devices().empty());
  REQUIRE(backend.why_unavailable().find("POCL_CACHE_DIR") != std::string::npos);
  std::_Exit(42);  // proof for the parent that this case ran and passed (an unmatched filter exits 0)
}

TEST_CASE("with an unwritable POCL_CACHE_DIR the backend has no device and why_unavailable says what to set") {
  // A separate process: PoCL reads the variable once per process, and this one already has a device.
  const std::string filter = std::string("--test-case=") + no_pocl_cache_case;
  std::vector<std::string> env_strings{std::string(no_pocl_cache_child) + "=1",
                                       "POCL_CACHE_DIR=/proc/ec-no-such-folder/pocl"};
  for (char** e = environ; *e; ++e)
    if (std::string_view(*e).rfind("POCL_CACHE_DIR=", 0) != 0) env_strings.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string exe = "/proc/self/exe", quiet = "--no-version";
  char* argv[] = {exe.data(), const_cast<char*>(filter.c_str()), quiet.data(), nullptr};
  pid_t pid = 0;
  REQUIRE(::posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv, envp.data()) == 0);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 42);
}

TEST_CASE("why_unavailable says the loader found no platform") {
  const auto why = explain_no_devices({});
  CHECK(why.find("no OpenCL platform") != std::string::npos);
  CHECK(why.find("ICD") != std::string::npos);
}

TEST_CASE("why_unavailable hints at POCL_CACHE_DIR when PoCL shows no device") {
  const auto why = explain_no_devices({{"Portable Computing Language", 0, {}}});
  CHECK(why.find("POCL_CACHE_DIR") != std::string::npos);
  CHECK(why.find("cache directory") != std::string::npos);
  const auto other = explain_no_devices({{"ARM Platform", 0, "clGetDeviceIDs failed: CL_OUT_OF_HOST_MEMORY (-6)"}});
  CHECK(other.find("POCL_CACHE_DIR") == std::string::npos);
  CHECK(other.find("ARM Platform") != std::string::npos);
  CHECK(other.find("CL_OUT_OF_HOST_MEMORY") != std::string::npos);
}

TEST_CASE("CL status codes are named in errors") {
  CHECK(cl_error_name(CL_OUT_OF_RESOURCES) == "CL_OUT_OF_RESOURCES");
  CHECK(cl_error_name(CL_PLATFORM_NOT_FOUND_KHR) == "CL_PLATFORM_NOT_FOUND_KHR");
  CHECK(cl_error_name(-12345) == "CL_UNKNOWN_ERROR");
  const auto e = cl_fail("clFinish", CL_INVALID_COMMAND_QUEUE);
  CHECK(e.code == error_code::device_error);
  CHECK(e.message == "clFinish failed: CL_INVALID_COMMAND_QUEUE (-36)");
}

TEST_CASE("OpenCL C versions are parsed from the device's text") {
  int major = 0, minor = 0;
  CHECK(parse_opencl_c_version("OpenCL C 1.2 PoCL", major, minor));
  CHECK((major == 1 && minor == 2));
  CHECK(parse_opencl_c_version("OpenCL C 3.0 ", major, minor));
  CHECK((major == 3 && minor == 0));
  CHECK_FALSE(parse_opencl_c_version("OpenCL 3.0", major, minor));
}

}  // namespace ec::backends::opencl::test
