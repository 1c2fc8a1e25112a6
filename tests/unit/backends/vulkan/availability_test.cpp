// Why the backend has no device, in words: no ICD, or validation asked for without the layer. The tests steer
// the Vulkan loader through its own environment variables (the library never touches the environment).
#include <doctest/doctest.h>

#include <cstdlib>
#include <optional>

#include "vulkan_test_support.hpp"

using namespace ec::backends::vulkan;
using namespace ec::backends::vulkan::test;

namespace {

// Sets an environment variable for the scope, restoring the old value.
class scoped_env {
 public:
  scoped_env(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value, 1);
  }
  ~scoped_env() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("without any Vulkan driver the backend has no device and says why") {
  const scoped_env drivers("VK_DRIVER_FILES", "/nonexistent/no_icd.json");
  const scoped_env legacy("VK_ICD_FILENAMES", "/nonexistent/no_icd.json");
  vulkan_backend b(validated_options());
  CHECK(b.devices().empty());
  MESSAGE("why_unavailable: " << b.why_unavailable());
  CHECK(b.why_unavailable().find("no Vulkan driver") != std::string::npos);
}

TEST_CASE("validation asked for without the validation layer is reported, never passed silently") {
  const scoped_env layers("VK_LAYER_PATH", "/nonexistent/layers");
  const scoped_env add("VK_ADD_LAYER_PATH", "/nonexistent/layers");
  vulkan_backend b(validated_options());
  CHECK(b.devices().empty());
  CHECK(b.why_unavailable().find("VK_LAYER_KHRONOS_validation") != std::string::npos);

  auto options = validated_options();
  options.validation = false;  // the same environment without validation still finds lavapipe
  vulkan_backend plain(options);
  CHECK_FALSE(plain.devices().empty());
}
