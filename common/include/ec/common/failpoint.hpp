// Named failpoints: test builds stop the process at a chosen line (SIGKILL) to prove that a crash exactly there
// loses nothing; release builds compile none of them (CMake option EC_FAILPOINTS off: the macros expand to nothing).
//
// Arming, read once when the process starts, from the environment:
//   EC_FAILPOINTS="agent.after_journal_before_publish=kill@3,aggregator.after_commit_before_receipt=kill"
// Each entry is NAME=ACTION[@N]: NAME is [a-z0-9_.]; ACTION is `kill` (one line on stderr, then SIGKILL to the
// whole process); @N fires on the Nth time the failpoint is reached (default 1). A malformed spec stops the
// process at start with exit status 2 and a message, so that a test never runs silently unarmed.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ec/protocol/error.hpp"

namespace ec {

/// What an armed failpoint does when it fires.
enum class failpoint_action : std::uint8_t {
  kill,  // write "ec-failpoint: NAME fired ..." to stderr, then SIGKILL this process
};

/// One armed failpoint: its name, action, and the hit (1-based) on which it fires.
struct failpoint_spec {
  std::string name;
  failpoint_action action = failpoint_action::kill;
  std::uint64_t on_hit = 1;
};

/// The environment variable that arms failpoints.
inline constexpr const char* failpoints_env = "EC_FAILPOINTS";

/// Parses an EC_FAILPOINTS value; an empty or all-blank text arms nothing. Refuses anything malformed.
result<std::vector<failpoint_spec>> parse_failpoints(std::string_view text);

namespace detail {

/// True once any failpoint is armed; the only cost of an unarmed failpoint is one relaxed load of it.
extern std::atomic<bool> failpoints_armed;

/// Counts a hit of `name`; true when this hit is the one its spec fires on.
bool failpoint_fires(std::string_view name) noexcept;

/// Takes the armed action of `name` (kill: writes one line to stderr, SIGKILLs the process; never returns).
[[noreturn]] void failpoint_act(std::string_view name) noexcept;

}  // namespace detail
}  // namespace ec

#if defined(EC_FAILPOINTS) && EC_FAILPOINTS
/// When the failpoint `name` fires, runs the statements given after the name, then takes its action.
#define EC_FAILPOINT_WITH(name, ...)                                                                             \
  do {                                                                                                           \
    if (::ec::detail::failpoints_armed.load(std::memory_order_relaxed) && ::ec::detail::failpoint_fires(name)) { \
      __VA_ARGS__;                                                                                               \
      ::ec::detail::failpoint_act(name);                                                                         \
    }                                                                                                            \
  } while (false)
#else
#define EC_FAILPOINT_WITH(name, ...) \
  do {                               \
  } while (false)
#endif

/// A failpoint: takes its armed action here (see the top of this file); nothing in release builds.
#define EC_FAILPOINT(name) EC_FAILPOINT_WITH(name, (void)0)
