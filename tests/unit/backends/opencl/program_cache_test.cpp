// The on-disk program-binary cache: hits across backend instances, keys that include the build options,
// corrupt and foreign files rebuilt from source, atomic writes and the size bound.
#include <array>
#include <fstream>

#include "opencl_test_support.hpp"
#include "program_builder.hpp"

namespace ec::backends::opencl::test {
namespace {
namespace fs = std::filesystem;

const kernels::kernel_spec& saxpy() { return *kernels::find_kernel("saxpy"); }

bound_sample saxpy_call(std::uint64_t n) {
  const std::array<std::uint64_t, 1> dims{n};
  auto b = bind_sample(saxpy(), saxpy().generate(dims, 11, kernels::sample_data::ordinary));
  REQUIRE(b.ok());
  return std::move(*b);
}

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) out.push_back(it->path());
  return out;
}

std::uint64_t folder_bytes(const fs::path& dir) {
  std::uint64_t total = 0;
  for (const auto& p : files_in(dir)) total += fs::file_size(p);
  return total;
}

program_identity identity_for(const opencl_device& dev, std::string_view source, std::string_view options) {
  return {source, options, dev.info().name, dev.facts().driver_version, dev.facts().platform_version};
}

// A distinct program per tag, so tests never collide with PoCL's or each other's cached builds.
std::string tagged_source(const std::string& tag) { return "// " + tag + "\n" + std::string(saxpy().opencl_source); }

}  // namespace

TEST_CASE("a second backend instance loads the program binary from the cache, faster") {
  temp_dir dir("hit");
  backend_options options;
  options.cache_dir = dir.path();
  const auto b = saxpy_call(10007);

  opencl_backend first(options);
  auto& dev1 = pocl_device(first);
  const auto cold = run_and_check(dev1, b.call);
  CHECK(dev1.stats().source_builds == 1);
  CHECK(dev1.stats().cache_hits == 0);
  const auto key = program_key(identity_for(dev1, saxpy().opencl_source, dev1.build_options()));
  const auto file = program_cache_dir(options) / (protocol::to_hex(key) + ".clbin");
  CHECK(fs::exists(file));
  // The in-memory program is reused: a second run on the same device compiles nothing.
  const auto again = run_and_check(dev1, b.call);
  CHECK(again.timings.compile_us == 0);

  opencl_backend second(options);
  auto& dev2 = pocl_device(second);
  const auto warm = run_and_check(dev2, b.call);
  CHECK(dev2.stats().cache_hits == 1);
  CHECK(dev2.stats().source_builds == 0);
  MESSAGE("saxpy program: built from source in " << cold.timings.compile_us << " us, from the binary cache in "
                                                 << warm.timings.compile_us << " us");
  CHECK(warm.timings.compile_us < cold.timings.compile_us);
}

TEST_CASE("the cache key includes the build options: another option string misses") {
  temp_dir dir("options");
  const program_cache cache(dir.path(), 64ull << 20);
  const auto& dev = pocl_device();
  const auto source = tagged_source("options");
  const auto a = identity_for(dev, source, "-cl-std=CL1.2");
  const auto b = identity_for(dev, source, "-cl-std=CL1.2 -DEC_VARIANT=1");
  CHECK(program_key(a) != program_key(b));
  auto other_device = a;
  other_device.device_name = "another device";
  CHECK(program_key(a) != program_key(other_device));
  auto other_driver = a;
  other_driver.driver_version = "0.0";
  CHECK(program_key(a) != program_key(other_driver));

  auto built = build_program(dev.context(), dev.handle(), a, cache);
  REQUIRE(built.ok());
  CHECK(built->origin == program_origin::source);
  CHECK(built->cache_warning.empty());
  built = build_program(dev.context(), dev.handle(), a, cache);
  REQUIRE(built.ok());
  CHECK(built->origin == program_origin::cache_hit);
  built = build_program(dev.context(), dev.handle(), b, cache);
  REQUIRE(built.ok());
  CHECK(built->origin == program_origin::source);
  CHECK(files_in(dir.path()).size() == 2);
}

TEST_CASE("a corrupted cache file falls back to a source build that still computes the right answer") {
  temp_dir dir("corrupt");
  backend_options options;
  options.cache_dir = dir.path();
  const auto b = saxpy_call(4097);
  fs::path file;
  {
    opencl_backend first(options);
    auto& dev = pocl_device(first);
    run_and_check(dev, b.call);
    file = program_cache_dir(options) /
           (protocol::to_hex(program_key(identity_for(dev, saxpy().opencl_source, dev.build_options()))) + ".clbin");
  }
  REQUIRE(fs::exists(file));
  const auto size = fs::file_size(file);
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    for (std::uint64_t at : {size / 2, size - 1}) {  // flip bytes inside the payload
      f.seekg(static_cast<std::streamoff>(at));
      const char c = static_cast<char>(f.get());
      f.seekp(static_cast<std::streamoff>(at));
      f.put(static_cast<char>(c ^ 0x5a));
    }
  }
  {
    opencl_backend second(options);
    auto& dev = pocl_device(second);
    run_and_check(dev, b.call);
    CHECK(dev.stats().cache_hits == 0);
    CHECK(dev.stats().rejected_binaries == 1);
  }
  // The rebuild overwrote the bad file: the next instance hits.
  opencl_backend third(options);
  auto& dev = pocl_device(third);
  run_and_check(dev, b.call);
  CHECK(dev.stats().cache_hits == 1);
}

TEST_CASE("a well-formed cache file with a binary the driver rejects is rebuilt from source and replaced") {
  temp_dir dir("foreign");
  const program_cache cache(dir.path(), 64ull << 20);
  const auto& dev = pocl_device();
  const auto source = tagged_source("foreign");
  const auto id = identity_for(dev, source, dev.build_options());
  const auto key = program_key(id);
  const std::string garbage = "not a binary of this driver, but the envelope checksum is right";
  REQUIRE(cache.store(key, protocol::as_bytes(garbage)).ok());
  REQUIRE(cache.load(key).has_value());

  auto built = build_program(dev.context(), dev.handle(), id, cache);
  INFO((built ? std::string() : built.err().what()));
  REQUIRE(built.ok());
  CHECK(built->origin == program_origin::source_after_bad);
  const auto reloaded = cache.load(key);
  REQUIRE(reloaded.has_value());
  CHECK(reloaded->size() != garbage.size());
  built = build_program(dev.context(), dev.handle(), id, cache);
  REQUIRE(built.ok());
  CHECK(built->origin == program_origin::cache_hit);
}

TEST_CASE("cache files are written atomically and a truncated file is a miss") {
  temp_dir dir("atomic");
  const program_cache cache(dir.path(), 64ull << 20);
  protocol::sha256_digest key{};
  key[0] = 1;
  const protocol::bytes payload(1000, 0x42);
  REQUIRE(cache.store(key, payload).ok());
  const auto names = files_in(dir.path());
  REQUIRE(names.size() == 1);  // no temp file left behind
  CHECK(names[0] == cache.path_for(key));
  CHECK(cache.load(key) == payload);
  fs::resize_file(cache.path_for(key), fs::file_size(cache.path_for(key)) - 10);
  CHECK_FALSE(cache.load(key).has_value());
  // A file stored under another key is not served for this one.
  protocol::sha256_digest other = key;
  other[1] = 2;
  fs::copy_file(cache.path_for(key), cache.path_for(other));
  CHECK_FALSE(cache.load(other).has_value());
  const program_cache disabled({}, 0);
  CHECK_FALSE(disabled.enabled());
  CHECK(disabled.store(key, payload).ok());
  CHECK_FALSE(disabled.load(key).has_value());
}

TEST_CASE("a tiny cache_max_bytes keeps the folder bounded, evicting the least recently used first") {
  temp_dir dir("bounded");
  const std::uint64_t entry = 80 + 1000;  // header + payload
  const program_cache cache(dir.path(), 2 * entry + 10);
  const auto key_of = [](std::uint8_t i) {
    protocol::sha256_digest k{};
    k[0] = i;
    return k;
  };
  const protocol::bytes payload(1000, 7);
  REQUIRE(cache.store(key_of(1), payload).ok());
  REQUIRE(cache.store(key_of(2), payload).ok());
  // Make the order explicit (file times can be coarse): 1 older than 2, then a hit refreshes 1.
  const auto now = fs::file_time_type::clock::now();
  fs::last_write_time(cache.path_for(key_of(1)), now - std::chrono::hours(2));
  fs::last_write_time(cache.path_for(key_of(2)), now - std::chrono::hours(1));
  REQUIRE(cache.load(key_of(1)).has_value());
  REQUIRE(cache.store(key_of(3), payload).ok());
  CHECK(fs::exists(cache.path_for(key_of(1))));
  CHECK_FALSE(fs::exists(cache.path_for(key_of(2))));
  CHECK(fs::exists(cache.path_for(key_of(3))));
  CHECK(folder_bytes(dir.path()) <= 2 * entry + 10);

  // Real programs through a backend whose bound is smaller than one binary: runs still work, folder stays bounded.
  temp_dir tiny_dir("tiny");
  backend_options options;
  options.cache_dir = tiny_dir.path();
  options.cache_max_bytes = 4096;
  opencl_backend backend(options);
  auto& dev = pocl_device(backend);
  for (const char* tag : {"t1", "t2", "t3"}) {
    auto spec = saxpy();
    const auto source = tagged_source(tag);
    spec.opencl_source = source;
    auto b = saxpy_call(1000);
    b.call.spec = &spec;
    auto out = dev.run(b.call, far_deadline());
    REQUIRE(out.ok());
    CHECK(folder_bytes(program_cache_dir(options)) <= 4096);
  }
}

}  // namespace ec::backends::opencl::test
