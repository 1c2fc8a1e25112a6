// Shared by the config sources (config_keys.cpp, config_load.cpp, config_validate.cpp): problem lists, the origin of
// each value, and setting a key from text or from a typed value.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "ec/agent/config.hpp"

namespace ec::agent::detail {

/// One thing wrong with the configuration; load and validate report all of them at once.
struct problem {
  error_code code = error_code::invalid_argument;
  std::string text;  // "agent.region: 'EU_West' must match [a-z0-9-]{1,32}"
};

/// Where each key's value came from ("line 4", "EDGE_AGENT_BROKER_URL", "the command line"), for messages.
using origin_map = std::map<std::string, std::string, std::less<>>;

/// Collects problems and turns them into one error: the first problem's code, every text joined by "; ".
struct problems {
  std::vector<problem> list;
  const origin_map* origins = nullptr;

  /// Records a problem about a key; appends " (from <origin>)" when the key's origin is known.
  void add(std::string_view key, std::string text, error_code code = error_code::invalid_argument);
  [[nodiscard]] bool empty() const { return list.empty(); }
  [[nodiscard]] error to_error() const;
};

/// A value for a message: quoted, control characters escaped, at most 80 characters; "***" for secrets.
std::string quote(std::string_view value, bool secret = false);
/// A URL for a message, its password replaced by "***".
std::string quote_url(std::string_view url);
/// "; did you mean broker.url?" for the closest known key, or "".
std::string suggestion(std::string_view unknown_key);
/// "must be between 1 and 65535" for an integer key.
std::string range_rule(const key_descriptor& key);

/// Sets a key from environment or command-line text (lists comma-separated); problems name the key.
void set_from_text(agent_config& config, const key_descriptor& key, std::string_view text, problems& out);
/// Sets an integer key from a parsed integer, checking the descriptor's range.
void set_integer(agent_config& config, const key_descriptor& key, std::int64_t value, problems& out);

/// Applies the EDGE_AGENT_* variables of env; unknown EDGE_AGENT_ names are problems.
void apply_environment(agent_config& config, const env_map& env, origin_map& origins, problems& out);
/// Applies overrides in order; unknown keys are problems.
void apply_overrides(agent_config& config, std::span<const config_override> overrides, origin_map& origins,
                     problems& out);
/// Checks every rule of the configuration.
void validate_into(const agent_config& config, problems& out);

}  // namespace ec::agent::detail
