// Failpoints (see failpoint.hpp): the EC_FAILPOINTS parser, and the armed set read once at start.
#include "ec/common/failpoint.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>

namespace ec {
namespace {

constexpr std::size_t max_spec_chars = 4096;
constexpr std::size_t max_entries = 32;
constexpr std::size_t max_name_chars = 64;
constexpr std::uint64_t max_hit = 1'000'000'000;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The entry as it may appear in a message: printable ASCII only (the text comes from an environment).
std::string shown(std::string_view s) {
  std::string out;
  for (const char c : s) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return "'" + out + "'";
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > max_name_chars) return false;
  for (const char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.')) return false;
  }
  return true;
}

error bad(std::string_view entry, const std::string& why) {
  return fail(error_code::invalid_argument,
              std::string(failpoints_env) + " entry " + shown(entry) + ": " + why + " (expected NAME=kill[@N])");
}

result<std::uint64_t> parse_hit(std::string_view entry, std::string_view digits) {
  if (digits.empty()) return bad(entry, "no hit count after '@'");
  std::uint64_t n = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') return bad(entry, "hit count " + shown(digits) + " is not a decimal number");
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
    if (n > max_hit) return bad(entry, "hit count above " + std::to_string(max_hit));
  }
  if (n == 0) return bad(entry, "hit count 0 (hits count from 1)");
  return n;
}

result<failpoint_spec> parse_entry(std::string_view entry) {
  const auto eq = entry.find('=');
  if (eq == std::string_view::npos) return bad(entry, "no '='");
  failpoint_spec spec;
  const std::string_view name = trim(entry.substr(0, eq));
  if (!valid_name(name)) {
    return bad(entry, "name must be 1 to " + std::to_string(max_name_chars) + " characters of [a-z0-9_.]");
  }
  spec.name = std::string(name);
  std::string_view rest = trim(entry.substr(eq + 1));
  const auto at = rest.find('@');
  const std::string_view action = trim(rest.substr(0, at));
  if (action != "kill") return bad(entry, "unknown action " + shown(action) + " (known: kill)");
  if (at != std::string_view::npos) {
    auto n = parse_hit(entry, trim(rest.substr(at + 1)));
    if (!n) return n.err();
    spec.on_hit = *n;
  }
  return spec;
}

}  // namespace

result<std::vector<failpoint_spec>> parse_failpoints(std::string_view text) {
  if (text.size() > max_spec_chars) {
    return fail(error_code::invalid_argument,
                std::string(failpoints_env) + " is longer than " + std::to_string(max_spec_chars) + " characters");
  }
  std::vector<failpoint_spec> specs;
  if (trim(text).empty()) return specs;
  for (std::size_t pos = 0;;) {
    const auto comma = text.find(',', pos);
    const std::string_view entry =
        trim(text.substr(pos, comma == std::string_view::npos ? text.size() - pos : comma - pos));
    if (entry.empty()) return fail(error_code::invalid_argument, std::string(failpoints_env) + " has an empty entry");
    auto spec = parse_entry(entry);
    if (!spec) return spec.err();
    for (const auto& s : specs) {
      if (s.name == spec->name) return bad(entry, "failpoint " + shown(s.name) + " is armed twice");
    }
    if (specs.size() == max_entries) {
      return fail(error_code::invalid_argument,
                  std::string(failpoints_env) + " arms more than " + std::to_string(max_entries) + " failpoints");
    }
    specs.push_back(std::move(*spec));
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return specs;
}

namespace detail {

std::atomic<bool> failpoints_armed{false};

namespace {

// The armed set: fixed once loaded (before main), so hits need no lock; only the counters change.
struct armed_set {
  std::vector<failpoint_spec> specs;
  std::unique_ptr<std::atomic<std::uint64_t>[]> hits;
};

armed_set& armed() {
  static armed_set set;
  return set;
}

#if defined(EC_FAILPOINTS) && EC_FAILPOINTS
// Reads EC_FAILPOINTS; a malformed value ends the process, since a test that believes it armed a failpoint must
// not run on unarmed.
bool load_from_environment() {
  const char* text = std::getenv(failpoints_env);
  if (text == nullptr) return false;
  auto specs = parse_failpoints(text);
  if (!specs) {
    std::fprintf(stderr, "ec-failpoint: %s\n", specs.err().message.c_str());
    std::_Exit(2);
  }
  if (specs->empty()) return false;
  armed_set& set = armed();
  set.hits = std::make_unique<std::atomic<std::uint64_t>[]>(specs->size());
  set.specs = std::move(*specs);
  failpoints_armed.store(true, std::memory_order_release);
  return true;
}

[[maybe_unused]] const bool loaded_at_start = load_from_environment();
#endif

const failpoint_spec* find(std::string_view name, std::size_t& index) {
  const armed_set& set = armed();
  for (index = 0; index < set.specs.size(); ++index) {
    if (set.specs[index].name == name) return &set.specs[index];
  }
  return nullptr;
}

}  // namespace

bool failpoint_fires(std::string_view name) noexcept {
  std::size_t i = 0;
  const failpoint_spec* spec = find(name, i);
  if (spec == nullptr) return false;
  return armed().hits[i].fetch_add(1, std::memory_order_relaxed) + 1 == spec->on_hit;
}

void failpoint_act(std::string_view name) noexcept {
  std::size_t i = 0;
  const failpoint_spec* spec = find(name, i);
  char line[160];
  const int n = std::snprintf(line, sizeof line, "ec-failpoint: %.*s fired on hit %llu: kill (SIGKILL)\n",
                              static_cast<int>(name.size()), name.data(),
                              static_cast<unsigned long long>(spec != nullptr ? spec->on_hit : 0));
  if (n > 0) {
    const auto wrote = ::write(STDERR_FILENO, line, std::min(static_cast<std::size_t>(n), sizeof line - 1));
    (void)wrote;  // nothing to do about a lost line: the kill below is what the test observes
  }
  ::kill(::getpid(), SIGKILL);
  for (;;) ::pause();  // SIGKILL is never blocked: this only waits for it to land
}

}  // namespace detail
}  // namespace ec
