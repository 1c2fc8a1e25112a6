// run_probe() applies the agent's device options to the devices it builds: what the in-process executor (the C
// API's default) runs tasks on, so devices.cpu_threads must hold there as it does in worker processes.
#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "ec/agent/probe.hpp"

namespace fs = std::filesystem;

namespace {

struct temp_dir {
  fs::path path;
  temp_dir() {
    char pattern[] = "/tmp/ec-probe-options-XXXXXX";
    path = ::mkdtemp(pattern);
  }
  ~temp_dir() { fs::remove_all(path); }
};

// The CPU device's driver line after a probe with `threads` CPU threads and no GPU modules.
std::string cpu_driver_with(unsigned threads) {
  temp_dir state, modules;
  ec::agent::probe_options o;
  o.state_dir = state.path;
  o.module_dir = modules.path;  // empty: the CPU backend alone
  o.cpu_threads = threads;
  o.calibrate = false;
  auto report = ec::agent::run_probe(o);
  REQUIRE_MESSAGE(report.ok(), (report.ok() ? std::string() : report.err().what()));
  for (const auto& d : report->devices->devices())
    if (d.info.backend == "cpu") return d.info.driver;
  FAIL("no CPU device");
  return {};
}

}  // namespace

TEST_CASE("devices.cpu_threads sizes the CPU backend's thread pool in the agent's own process") {
  CHECK(cpu_driver_with(1).find(", 1 threads") != std::string::npos);
  CHECK(cpu_driver_with(3).find(", 3 threads") != std::string::npos);
}
