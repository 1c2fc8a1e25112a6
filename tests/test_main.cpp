// The one doctest main shared by every unit test binary.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(leak_sanitizer)
#define EC_TEST_MAIN_LSAN 1
#include <sanitizer/lsan_interface.h>
#endif
#endif

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  const int rc = context.run();
#ifdef EC_TEST_MAIN_LSAN
  // Check for leaks here, while Mesa's and PoCL's worker threads sleep, rather than from LeakSanitizer's atexit
  // hook: by then static destructors are tearing those threads down, and suspending a thread that is exiting
  // can crash the tracer ("Tracer caught signal 11"), which failed a passing test. The call disables the atexit
  // check, and a leak still fails the binary.
  __lsan_do_leak_check();
#endif
  return rc;
}
