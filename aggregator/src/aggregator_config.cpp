// The aggregator config file: toml++ (header-only, as in job_spec.cpp), every key checked for type and range,
// unknown keys refused so that a typo is not silently ignored.
#include "ec/aggregator/aggregator_config.hpp"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 0
#define TOML_ENABLE_FORMATTERS 0
#include <toml++/toml.h>

namespace ec::aggregator {
namespace {

namespace fs = std::filesystem;

struct reader {
  std::string source;
  std::string base_dir;
  std::string problem;

  std::string where(const toml::node& n, std::string_view key) const {
    return (source.empty() ? std::string("config") : source) + ":" + std::to_string(n.source().begin.line) + ": " +
           std::string(key);
  }
  void bad(const toml::node& n, std::string_view key, const std::string& why) {
    if (problem.empty()) problem = where(n, key) + ": " + why;
  }
  std::string path(const std::string& p) const {
    if (p.empty() || base_dir.empty() || fs::path(p).is_absolute()) return p;
    return (fs::path(base_dir) / p).lexically_normal().string();
  }
};

using setter = std::function<void(reader&, const toml::node&, std::string_view, aggregator_config&)>;

setter text(std::string aggregator_config::*field, bool is_path = false) {
  return [field, is_path](reader& r, const toml::node& n, std::string_view key, aggregator_config& c) {
    const auto* s = n.as_string();
    if (!s) return r.bad(n, key, "must be a string");
    c.*field = is_path ? r.path(s->get()) : s->get();
  };
}

template <typename T>
setter number(T aggregator_config::*field, std::int64_t lo, std::int64_t hi) {
  return [field, lo, hi](reader& r, const toml::node& n, std::string_view key, aggregator_config& c) {
    const auto* i = n.as_integer();
    if (!i) return r.bad(n, key, "must be an integer");
    if (i->get() < lo || i->get() > hi)
      return r.bad(n, key, "must be in " + std::to_string(lo) + ".." + std::to_string(hi));
    c.*field = static_cast<T>(i->get());
  };
}

setter real(double aggregator_config::*field, double lo, double hi) {
  return [field, lo, hi](reader& r, const toml::node& n, std::string_view key, aggregator_config& c) {
    double v = 0;
    if (const auto* f = n.as_floating_point()) {
      v = f->get();
    } else if (const auto* i = n.as_integer()) {
      v = static_cast<double>(i->get());
    } else {
      return r.bad(n, key, "must be a number");
    }
    if (!(v >= lo && v <= hi)) return r.bad(n, key, "must be in " + std::to_string(lo) + ".." + std::to_string(hi));
    c.*field = v;
  };
}

setter flag(bool aggregator_config::*field) {
  return [field](reader& r, const toml::node& n, std::string_view key, aggregator_config& c) {
    const auto* b = n.as_boolean();
    if (!b) return r.bad(n, key, "must be true or false");
    c.*field = b->get();
  };
}

setter paths(std::vector<std::string> aggregator_config::*field) {
  return [field](reader& r, const toml::node& n, std::string_view key, aggregator_config& c) {
    const auto* a = n.as_array();
    if (!a) return r.bad(n, key, "must be an array of file paths");
    std::vector<std::string> out;
    for (const auto& e : *a) {
      const auto* s = e.as_string();
      if (!s || s->get().empty()) return r.bad(n, key, "each entry must be a non-empty file path");
      out.push_back(r.path(s->get()));
    }
    c.*field = std::move(out);
  };
}

const std::map<std::string, setter, std::less<>>& keys() {
  static const std::map<std::string, setter, std::less<>> k = {
      {"broker.url", text(&aggregator_config::broker_url)},
      {"broker.client_id", text(&aggregator_config::client_id)},
      {"broker.username", text(&aggregator_config::username)},
      {"broker.password", text(&aggregator_config::password)},
      {"broker.password_file", text(&aggregator_config::password_file, true)},
      {"broker.tls.ca_file", text(&aggregator_config::tls_ca_file, true)},
      {"broker.tls.cert_file", text(&aggregator_config::tls_cert_file, true)},
      {"broker.tls.key_file", text(&aggregator_config::tls_key_file, true)},
      {"broker.tls.verify_hostname", flag(&aggregator_config::tls_verify_hostname)},
      {"broker.allow_insecure_transport", flag(&aggregator_config::allow_insecure_transport)},
      {"broker.session_expiry_s", number(&aggregator_config::session_expiry_s, 0, 7 * 86400)},
      {"broker.reconnect_min_ms", number(&aggregator_config::reconnect_min_ms, 10, 600000)},
      {"broker.reconnect_max_ms", number(&aggregator_config::reconnect_max_ms, 10, 3600000)},
      {"broker.keepalive_s", number(&aggregator_config::keepalive_s, 5, 3600)},
      {"region.name", text(&aggregator_config::region)},
      {"region.max_payload_bytes", number(&aggregator_config::max_payload_bytes, 64 * 1024, 256 * 1024 * 1024)},
      {"storage.database", text(&aggregator_config::database, true)},
      {"storage.busy_timeout_ms", number(&aggregator_config::busy_timeout_ms, 0, 600000)},
      {"keys.key_file", text(&aggregator_config::key_file, true)},
      {"enrollment.allowlist_file", text(&aggregator_config::allowlist_file, true)},
      {"ledger.checkpoint_every_entries", number(&aggregator_config::checkpoint_every_entries, 1, 100000000)},
      {"ledger.checkpoint_every_ms", number(&aggregator_config::checkpoint_every_ms, 10, 86400000)},
      {"work.tick_ms", number(&aggregator_config::tick_ms, 10, 60000)},
      {"work.task_message_expiry_s", number(&aggregator_config::task_message_expiry_s, 1, 86400)},
      {"work.max_tasks_per_batch", number(&aggregator_config::max_tasks_per_batch, 1, 256)},
      {"work.initial_batch", number(&aggregator_config::initial_batch, 1, 256)},
      {"work.target_batch_seconds", real(&aggregator_config::target_batch_seconds, 0.001, 86400)},
      {"work.lease_grace_ms", number(&aggregator_config::lease_grace_ms, 0, 86400000)},
      {"work.initial_seconds_per_task", real(&aggregator_config::initial_seconds_per_task, 0.001, 86400)},
      {"work.max_clock_skew_ms", number(&aggregator_config::max_clock_skew_ms, 1000, 7 * 86400000LL)},
      {"work.held_request_ttl_ms", number(&aggregator_config::held_request_ttl_ms, 1000, 86400000)},
      {"work.batch_retention_ms", number(&aggregator_config::batch_retention_ms, 60000, 30 * 86400000LL)},
      {"trust.trust_after", number(&aggregator_config::trust_after, 1, 1000000)},
      {"trust.replicate_one_in", number(&aggregator_config::replicate_one_in, 1, 1000000)},
      {"trust.ringer_rate", real(&aggregator_config::ringer_rate, 0, 1)},
      {"jobs.code_keys", paths(&aggregator_config::code_keys)},
  };
  return k;
}

void read_table(reader& r, const toml::table& t, const std::string& prefix, aggregator_config& c) {
  for (const auto& [k, node] : t) {
    const std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (const auto* sub = node.as_table()) {
      read_table(r, *sub, key, c);
      continue;
    }
    if (key == "enrollment.mode") {
      const auto* s = node.as_string();
      if (!s) {
        r.bad(node, key, "must be a string");
      } else if (s->get() == "allowlist") {
        c.enrollment = enrollment_mode::allowlist;
      } else if (s->get() == "token") {
        c.enrollment = enrollment_mode::token;
      } else if (s->get() == "open") {
        c.enrollment = enrollment_mode::open;
      } else {
        r.bad(node, key, "must be \"allowlist\", \"token\" or \"open\"");
      }
      continue;
    }
    if (key == "log.level") {
      const auto* s = node.as_string();
      if (!s || !parse_log_level(s->get(), c.level))
        r.bad(node, key, "must be \"debug\", \"info\", \"warn\" or \"error\"");
      continue;
    }
    const auto it = keys().find(key);
    if (it == keys().end()) {
      r.bad(node, key, "unknown key");
      continue;
    }
    it->second(r, node, key, c);
  }
}

}  // namespace

std::string_view to_string(enrollment_mode m) noexcept {
  switch (m) {
    case enrollment_mode::allowlist:
      return "allowlist";
    case enrollment_mode::token:
      return "token";
    case enrollment_mode::open:
      return "open";
  }
  return "token";
}

result<aggregator_config> parse_aggregator_config(std::string_view text, std::string_view source,
                                                  std::string_view base_dir) {
  aggregator_config c;
  reader r{std::string(source), std::string(base_dir), {}};
  c.database = r.path(c.database);
  c.key_file = r.path(c.key_file);
  auto parsed = toml::parse(text, source);
  if (!parsed) {
    const auto& e = parsed.error();
    return fail(error_code::invalid_argument, (source.empty() ? std::string("config") : std::string(source)) + ":" +
                                                  std::to_string(e.source().begin.line) + ": " +
                                                  std::string(e.description()));
  }
  read_table(r, parsed.table(), "", c);
  if (!r.problem.empty()) return fail(error_code::invalid_argument, r.problem);
  if (c.reconnect_max_ms < c.reconnect_min_ms)
    return fail(error_code::invalid_argument, std::string(source) + ": broker.reconnect_max_ms < reconnect_min_ms");
  if (c.enrollment == enrollment_mode::allowlist && c.allowlist_file.empty())
    return fail(error_code::invalid_argument,
                std::string(source) + ": enrollment.mode = \"allowlist\" needs enrollment.allowlist_file");
  if (!c.password.empty() && !c.password_file.empty())
    return fail(error_code::invalid_argument,
                std::string(source) + ": set broker.password or broker.password_file, not both");
  return c;
}

result<aggregator_config> load_aggregator_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(error_code::io_error, "cannot read config " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  const auto dir = fs::absolute(fs::path(path)).parent_path().string();
  auto c = parse_aggregator_config(ss.str(), path, dir);
  if (!c) return c;
  struct stat st {};
  if (!c->password.empty() && ::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0)
    return fail(
        error_code::insecure_key_file,
        path + " holds broker.password and group or others can read it; use broker.password_file or chmod 600 " + path);
  return c;
}

result<std::string> broker_password(const aggregator_config& config) {
  if (config.password_file.empty()) return config.password;
  struct stat st {};
  if (::stat(config.password_file.c_str(), &st) != 0)
    return fail(error_code::io_error, "cannot read broker.password_file " + config.password_file);
  if ((st.st_mode & 077) != 0)
    return fail(error_code::insecure_key_file,
                "broker.password_file " + config.password_file + " is readable by group or others; chmod 600 it");
  std::ifstream in(config.password_file);
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  if (line.empty())
    return fail(error_code::invalid_argument, "broker.password_file " + config.password_file + " is empty");
  return line;
}

}  // namespace ec::aggregator
