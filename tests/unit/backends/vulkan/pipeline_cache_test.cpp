// The on-disk pipeline cache: written after the first compile, reloaded by the next backend, bounded by
// cache_max_bytes, and rejected (not passed to the driver) when torn, corrupted or foreign.
#include "pipeline_cache.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <fstream>

#include "ec/kernels/catalog.hpp"
#include "vulkan_test_support.hpp"

using namespace ec;
using namespace ec::backends::vulkan;
using namespace ec::backends::vulkan::test;
namespace fs = std::filesystem;

namespace {

struct temp_dir {
  fs::path path;
  temp_dir() {
    path =
        fs::temp_directory_path() / ("ec_vk_cache_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++));
    fs::remove_all(path);
  }
  ~temp_dir() { fs::remove_all(path); }
  static int& counter() {
    static int c = 0;
    return c;
  }
};

// Runs saxpy's known answer once; returns the run's compile time.
std::uint64_t run_saxpy(vulkan_device& d) {
  const auto& k = *kernels::find_kernel("saxpy");
  const auto s = k.known_answer();
  const auto out = run_ok(d, bind(k, s));
  check_outputs(k, out.outputs, s.expected);
  return out.timings.compile_us;
}

}  // namespace

TEST_CASE("the pipeline cache is written after a compile and reloaded by a second backend") {
  temp_dir dir;
  fs::path file;
  std::uintmax_t file_size = 0;
  std::uint64_t first_compile = 0;
  {
    vulkan_backend b(validated_options(dir.path));
    auto& d = lavapipe(b);
    CHECK(d.cache_stats().loaded_bytes == 0);
    first_compile = run_saxpy(d);
    CHECK(first_compile > 0);
    const auto stats = d.cache_stats();
    file = stats.file;
    CHECK(stats.pipelines_created == 1);
    CHECK(stats.saved_bytes >= 32);  // at least the VkPipelineCacheHeaderVersionOne
    REQUIRE(fs::exists(file));       // written at once, not only at shutdown (a killed worker keeps it)
    file_size = fs::file_size(file);
    CHECK(file_size == stats.saved_bytes + pipeline_cache_file::header_bytes);
    CHECK(run_saxpy(d) == 0);  // in-memory cache: no second compile
  }
  vulkan_backend again(validated_options(dir.path));
  auto& d = lavapipe(again);
  const auto stats = d.cache_stats();
  CHECK(stats.note.empty());
  CHECK(stats.loaded_bytes + pipeline_cache_file::header_bytes == file_size);
  const auto second_compile = run_saxpy(d);
  MESSAGE("saxpy pipeline: cold " << first_compile << " us, with the disk cache " << second_compile << " us, "
                                  << d.cache_stats().cache_hits << " cache hits reported, blob " << stats.loaded_bytes
                                  << " bytes");
  // lavapipe (Mesa 22.3) keeps no pipelines in its VkPipelineCache (the blob is the header only), so a hit
  // is only required when the driver stored something beyond the header.
  if (stats.loaded_bytes > 32) CHECK(d.cache_stats().cache_hits == 1);
}

TEST_CASE("a tiny cache_max_bytes leaves no cache file, and an oversize file is removed at start") {
  temp_dir dir;
  auto options = validated_options(dir.path);
  options.cache_max_bytes = 40;  // below our header plus Vulkan's 32-byte header
  {
    vulkan_backend b(options);
    auto& d = lavapipe(b);
    run_saxpy(d);
    CHECK_FALSE(fs::exists(d.cache_stats().file));
    CHECK(d.cache_stats().saved_bytes == 0);
  }
  // A file left by an earlier, larger bound.
  vulkan_backend probe(validated_options());
  const fs::path file = dir.path / pipeline_cache_file_name(lavapipe(probe).info().uuid);
  fs::create_directories(dir.path);
  std::ofstream(file, std::ios::binary) << std::string(4096, 'x');
  REQUIRE(fs::file_size(file) == 4096);
  options.cache_max_bytes = 1024;
  vulkan_backend b(options);
  CHECK_FALSE(fs::exists(file));
  CHECK(lavapipe(b).cache_stats().note.find("larger") != std::string::npos);
  for (const auto& e : fs::directory_iterator(dir.path)) CHECK(e.file_size() <= options.cache_max_bytes);
}

TEST_CASE("a corrupted, truncated or foreign cache file is rejected and the device still works") {
  temp_dir dir;
  fs::path file;
  {
    vulkan_backend b(validated_options(dir.path));
    auto& d = lavapipe(b);
    run_saxpy(d);
    file = d.cache_stats().file;
  }
  REQUIRE(fs::exists(file));
  const auto good_size = fs::file_size(file);

  SUBCASE("one flipped byte in the blob") {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(good_size - 1));
    f.put('\x5a' ^ '\x01');
  }
  SUBCASE("truncated") { fs::resize_file(file, good_size - 3); }
  SUBCASE("not ours") { std::ofstream(file, std::ios::binary) << std::string(good_size, '\0'); }

  vulkan_backend b(validated_options(dir.path));
  auto& d = lavapipe(b);
  CHECK(d.cache_stats().loaded_bytes == 0);
  CHECK_FALSE(d.cache_stats().note.empty());
  CHECK(run_saxpy(d) > 0);
  CHECK(fs::file_size(file) == good_size);  // rewritten whole
}

TEST_CASE("a blob from another device or driver is refused by its Vulkan header") {
  temp_dir dir;
  cache_identity id{0x10005, 0, {}};
  id.pipeline_cache_uuid[0] = 1;
  pipeline_cache_file writer(dir.path / "x.pipelines", 1 << 20, id);
  std::vector<std::uint8_t> blob(64, 0);
  blob[0] = 32;  // headerSize
  blob[4] = 1;   // VK_PIPELINE_CACHE_HEADER_VERSION_ONE
  blob[8] = 0x05;
  blob[10] = 0x01;  // vendor 0x10005
  blob[16] = 1;     // uuid
  auto saved = writer.save(blob);
  REQUIRE(saved.ok());
  CHECK(*saved);
  CHECK(writer.load() == blob);
  CHECK(writer.note().empty());

  cache_identity other = id;
  other.pipeline_cache_uuid[0] = 2;
  pipeline_cache_file reader(dir.path / "x.pipelines", 1 << 20, other);
  CHECK(reader.load().empty());
  CHECK(reader.note().find("another device") != std::string::npos);
  // No temp files left behind by the atomic write.
  int files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path)) ++files;
  CHECK(files == 1);
}
