// Selection: wrong answers disqualify, measurement decides, filters and hints are honoured, verdicts are cached.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "ec/backends/quirks.hpp"
#include "ec/backends/selection.hpp"
#include "ec/kernels/catalog.hpp"
#include "fake_devices.hpp"

using namespace ec;
using namespace ec::backends;
namespace fs = std::filesystem;

namespace {

struct temp_dir {
  fs::path path;
  temp_dir() {
    char pattern[] = "/tmp/ec-selection-XXXXXX";
    path = ::mkdtemp(pattern);
  }
  ~temp_dir() { fs::remove_all(path); }
};

// One CPU group holding: a correct device, a 4x slower correct one, a wrong one, and the real CPU backend.
std::unique_ptr<registry> fake_registry() {
  std::vector<std::unique_ptr<test::fake_device>> d;
  d.push_back(std::make_unique<test::fake_device>("fast", protocol::device_type::cpu, false, 1));
  d.push_back(std::make_unique<test::fake_device>("slow", protocol::device_type::cpu, false, 4));
  d.push_back(std::make_unique<test::fake_device>("wrong", protocol::device_type::cpu, true, 1));
  std::vector<std::unique_ptr<backend>> b;
  b.push_back(std::make_unique<test::fake_backend>(std::move(d)));
  return registry::from_backends(std::move(b));
}

const kernel_device_status& status(const device_selector& s, std::string_view kernel, std::string_view device) {
  for (const auto& st : s.statuses())
    if (st.kernel->name == kernel && st.device->dev->id() == device) return st;
  FAIL("no status");
  return s.statuses().front();
}

}  // namespace

TEST_CASE("a device that computes wrong numbers fails its self-test with a reason and is never chosen") {
  auto reg = fake_registry();
  device_selector sel(*reg, {});
  REQUIRE(sel.evaluate().ok());
  const auto& wrong = status(sel, "saxpy", "wrong");
  CHECK_FALSE(wrong.record.passed);
  CHECK(wrong.record.reason.find("known answer") != std::string::npos);
  const auto* chosen = sel.choose("saxpy", "cpu");
  REQUIRE(chosen != nullptr);
  CHECK(chosen->dev->id() != "wrong");
  CHECK(sel.kernels_passed(reg->devices()[2]).empty());
}

TEST_CASE("the faster of two correct devices in a group is chosen, by measurement") {
  auto reg = fake_registry();
  device_selector sel(*reg, {});
  REQUIRE(sel.evaluate().ok());
  CHECK(status(sel, "saxpy", "fast").record.seconds_per_call < status(sel, "saxpy", "slow").record.seconds_per_call);
  CHECK(sel.choose("saxpy", "cpu")->dev->id() == "fast");
}

TEST_CASE("a device filter from the config restricts the choice") {
  auto reg = fake_registry();
  selection_options o;
  o.device_filter = "slow";
  device_selector sel(*reg, o);
  REQUIRE(sel.evaluate().ok());
  CHECK(sel.choose("saxpy", "cpu")->dev->id() == "slow");
  o.device_filter = "wrong";  // the only allowed device fails: nothing is chosen
  device_selector none(*reg, o);
  REQUIRE(none.evaluate().ok());
  CHECK(none.choose("saxpy", "cpu") == nullptr);
}

TEST_CASE("verdicts and figures are cached per device and kernel, and a recalibration ignores the cache") {
  temp_dir dir;
  auto reg = fake_registry();
  selection_options o;
  o.cache_file = dir.path / "device_cache.tsv";
  {
    device_selector first(*reg, o);
    REQUIRE(first.evaluate().ok());
    CHECK_FALSE(status(first, "saxpy", "fast").from_cache);
  }
  REQUIRE(fs::exists(o.cache_file));
  device_selector second(*reg, o);
  REQUIRE(second.evaluate().ok());
  CHECK(status(second, "saxpy", "fast").from_cache);
  CHECK_FALSE(status(second, "saxpy", "wrong").record.passed);  // failures are cached with their reason too
  CHECK(status(second, "saxpy", "wrong").record.reason.find("known answer") != std::string::npos);
  o.recalibrate = true;
  device_selector third(*reg, o);
  REQUIRE(third.evaluate().ok());
  CHECK_FALSE(status(third, "saxpy", "fast").from_cache);
}

TEST_CASE("the cache key changes with the driver version and the device, so a driver update is measured again") {
  protocol::device_info a;
  a.backend = "vulkan";
  a.name = "gpu";
  a.driver = "1.0";
  auto b = a;
  b.driver = "1.1";
  auto c = a;
  c.name = "gpu2";
  const auto& k = *kernels::catalog().front();
  CHECK(device_cache::key(a, k) != device_cache::key(b, k));
  CHECK(device_cache::key(a, k) != device_cache::key(c, k));
  CHECK(device_cache::key(a, k) == device_cache::key(a, k));
}

TEST_CASE("a damaged cache line is ignored and measured again, the rest is kept") {
  temp_dir dir;
  const auto file = dir.path / "device_cache.tsv";
  {
    device_cache c(file);
    c.put("good", {true, "", 0.5, 1.0, 2.0});
    REQUIRE(c.save().ok());
  }
  {
    std::ofstream(file, std::ios::app) << "broken\tline\tnot-a-number\tx\ty\treason\n" << "short\n";
  }
  device_cache c(file);
  REQUIRE(c.find("good").has_value());
  CHECK(c.find("good")->seconds_per_call == doctest::Approx(0.5));
  CHECK_FALSE(c.find("broken").has_value());
  CHECK_FALSE(c.find("short").has_value());
}

TEST_CASE("the quirks table marks lavapipe as CPU-emulated and can take a kernel off a device") {
  protocol::device_info lvp;
  lvp.backend = "vulkan";
  lvp.vendor_id = 0x10005;
  lvp.name = "llvmpipe (LLVM 15.0.6, 256 bits)";
  CHECK((quirks_for(lvp).flags & quirk_cpu_emulated) != 0);
  CHECK_FALSE(quirks_for(lvp).notes.empty());
  protocol::device_info other = lvp;
  other.name = "Mali-G78";
  other.vendor_id = 0x13b5;
  CHECK(quirks_for(other).flags == quirk_none);
  const quirk table[] = {{"vulkan", 0x13b5, "Mali", "r32", quirk_skip_kernels, "histogram,sha256", "test entry"}};
  other.driver = "r32p1";
  const auto q = quirks_for(other, table);
  CHECK(q.skipped_kernels == std::vector<std::string>{"histogram", "sha256"});
  other.driver = "r40p0";
  CHECK(quirks_for(other, table).skipped_kernels.empty());
}
