// `edge-agent probe` as a user runs it: a real process, a temporary state folder, the module folder chosen.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

namespace fs = std::filesystem;

namespace {

struct temp_dir {
  fs::path path;
  temp_dir() {
    char pattern[] = "/tmp/ec-probe-XXXXXX";
    path = ::mkdtemp(pattern);
  }
  ~temp_dir() { fs::remove_all(path); }
};

struct run_result {
  int status = -1;
  std::string out;
};

run_result run(const std::string& command) {
  run_result r;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("with the module folder pointed at an empty folder the agent starts and lists only the CPU device") {
  temp_dir modules, state;
  const auto r = run(std::string(EC_AGENT_BINARY) + " probe --json --no-calibrate --module-dir " + modules.path.string() +
                     " --state-dir " + state.path.string());
  REQUIRE_MESSAGE(r.status == 0, r.out);
  CHECK(count(r.out, "\"memory_bytes\":") == 1);  // one device entry
  CHECK(r.out.find("\"backend\":\"cpu\"") != std::string::npos);
  CHECK(r.out.find("libec_backend_vulkan.so not found") != std::string::npos);
  CHECK(r.out.find("libec_backend_opencl.so not found") != std::string::npos);
}

TEST_CASE("the edge-agent binary does not link libvulkan or libOpenCL") {
  const auto r = run("readelf -d " + std::string(EC_AGENT_BINARY));
  REQUIRE(r.status == 0);
  CHECK(r.out.find("(NEEDED)") != std::string::npos);  // the check below reads a real dynamic section
  CHECK(r.out.find("libvulkan") == std::string::npos);
  CHECK(r.out.find("libOpenCL") == std::string::npos);
}

TEST_CASE("a second probe reuses the cached self-tests") {
  temp_dir modules, state;
  const std::string cmd = std::string(EC_AGENT_BINARY) + " probe --module-dir " + modules.path.string() +
                          " --state-dir " + state.path.string();
  const auto first = run(cmd);
  REQUIRE_MESSAGE(first.status == 0, first.out);
  CHECK(fs::exists(state.path / "device_cache.tsv"));
  const auto second = run(cmd);
  REQUIRE(second.status == 0);
  CHECK(count(second.out, " pass    yes") >= 1);
  CHECK(count(second.out, " pass    no") == 0);
}

TEST_CASE("an unknown subcommand or option is a usage error, not a crash") {
  CHECK(run(std::string(EC_AGENT_BINARY) + " frobnicate").status != 0);
  CHECK(run(std::string(EC_AGENT_BINARY) + " probe --no-such-option").status != 0);
}
