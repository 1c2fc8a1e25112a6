// Loading: defaults < TOML file < EDGE_AGENT_* environment < command-line overrides, then validation. The only
// translation unit that includes toml++ (header-only, no exceptions), so its compile cost stays here.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "config_detail.hpp"
#include "ec/agent/config.hpp"

#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 0
#define TOML_ENABLE_FORMATTERS 0
#include <toml++/toml.h>

namespace ec::agent {

namespace {

constexpr std::size_t max_config_bytes = 1024 * 1024;

std::string_view type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time:
      return "a date or time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

std::string_view expected(key_type t) {
  switch (t) {
    case key_type::string:
      return "a string";
    case key_type::boolean:
      return "true or false";
    case key_type::integer:
      return "an integer";
    case key_type::string_list:
      return "an array of strings";
  }
  return "";
}

class toml_reader {
 public:
  toml_reader(agent_config& config, std::string_view source, detail::origin_map& origins, detail::problems& out)
      : config_(config), source_(source), origins_(origins), out_(out) {}

  void read_table(const toml::table& table, const std::string& prefix) {
    for (auto&& [k, node] : table) {
      const std::string path = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
      const auto where = location(node);
      if (prefix.empty() && is_reserved(path)) continue;  // a later feature's table, e.g. [policy]
      if (const auto* key = find_config_key(path)) {
        origins_[path] = where;
        read_value(*key, node, where);
      } else if (node.is_table() && is_section(path)) {
        read_table(*node.as_table(), path);
      } else {
        // Typos must not be ignored: a misspelt key would silently keep its default.
        out_.list.push_back({error_code::invalid_argument, path + ": unknown " + (node.is_table() ? "table" : "key") +
                                                               " (" + where + ")" + detail::suggestion(path)});
      }
    }
  }

 private:
  std::string location(const toml::node& node) const {
    const auto line = std::to_string(node.source().begin.line);
    return source_.empty() ? "line " + line : std::string(source_) + ":" + line;
  }

  static bool is_reserved(std::string_view name) {
    for (const auto r : reserved_config_tables())
      if (r == name) return true;
    return false;
  }

  static bool is_section(std::string_view path) {
    for (const auto& k : config_keys())
      if (k.name.size() > path.size() && k.name.starts_with(path) && k.name[path.size()] == '.') return true;
    return false;
  }

  void wrong_type(const key_descriptor& key, const toml::node& node, const std::string& where) {
    std::string got{type_name(node.type())};
    if (const auto* s = node.as_string(); s != nullptr && !key.secret) got += " (" + detail::quote(s->get()) + ")";
    if (const auto* i = node.as_integer(); i != nullptr && !key.secret) got += " (" + std::to_string(i->get()) + ")";
    out_.add(key.name, "expected " + std::string(expected(key.type)) + ", got " + got + " (from " + where + ")");
  }

  void read_value(const key_descriptor& key, const toml::node& node, const std::string& where) {
    const auto before = out_.list.size();
    const auto field = key.field(config_);
    switch (key.type) {
      case key_type::string:
        if (const auto* s = node.as_string())
          *std::get<std::string*>(field) = s->get();
        else
          wrong_type(key, node, where);
        return;
      case key_type::boolean:
        if (const auto* b = node.as_boolean())
          *std::get<bool*>(field) = b->get();
        else
          wrong_type(key, node, where);
        return;
      case key_type::integer:
        if (const auto* i = node.as_integer()) {
          detail::set_integer(config_, key, i->get(), out_);
          for (auto n = before; n < out_.list.size(); ++n) out_.list[n].text += " (from " + where + ")";
        } else {
          wrong_type(key, node, where);
        }
        return;
      case key_type::string_list: {
        const auto* array = node.as_array();
        std::vector<std::string> items;
        bool ok = array != nullptr;
        if (ok) {
          for (const auto& item : *array) {
            if (const auto* s = item.as_string())
              items.push_back(s->get());
            else
              ok = false;
          }
        }
        if (ok)
          *std::get<std::vector<std::string>*>(field) = std::move(items);
        else
          wrong_type(key, node, where);
        return;
      }
    }
  }

  agent_config& config_;
  std::string_view source_;
  detail::origin_map& origins_;
  detail::problems& out_;
};

// mode: the config file's mode when it came from a file, checked when the file itself holds a secret.
result<agent_config> load(std::string_view text, std::string_view source, const env_map& env,
                          std::span<const config_override> overrides, std::optional<mode_t> mode) {
  agent_config config;
  detail::origin_map origins;
  detail::problems out;

  auto parsed = toml::parse(text, source);
  if (!parsed) {
    const auto& e = parsed.error();
    const auto at = std::to_string(e.source().begin.line) + ":" + std::to_string(e.source().begin.column);
    return fail(error_code::invalid_argument, (source.empty() ? "TOML line " + at : std::string(source) + ":" + at) +
                                                  ": " + std::string(e.description()));
  }
  toml_reader reader(config, source, origins, out);
  reader.read_table(parsed.table(), "");

  if (mode && (*mode & 077) != 0) {
    for (const auto& key : config_keys()) {
      if (!key.secret || !origins.contains(key.name)) continue;
      const auto* value = std::get<std::string*>(key.field(config));
      if (!value->empty())
        out.add(key.name,
                "is written in " + std::string(source) + ", which group or others can read; move it to " +
                    "a file of its own with mode 0600 (broker.password_file) or chmod 600 the config",
                error_code::insecure_key_file);
    }
  }

  detail::apply_environment(config, env, origins, out);
  detail::apply_overrides(config, overrides, origins, out);
  if (!out.empty()) return out.to_error();  // a value that did not parse makes further checks noise

  out.origins = &origins;
  detail::validate_into(config, out);
  if (!out.empty()) return out.to_error();
  return config;
}

}  // namespace

result<agent_config> load_config(std::string_view toml_text, const env_map& env,
                                 std::span<const config_override> overrides) {
  return load(toml_text, "", env, overrides, std::nullopt);
}

result<agent_config> load_config_file(const std::filesystem::path& path, const env_map& env,
                                      std::span<const config_override> overrides) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return fail(error_code::io_error, "cannot open config " + path.string() + ": " + std::strerror(errno));
  struct stat st {};
  std::string text;
  bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && static_cast<std::size_t>(st.st_size) <= max_config_bytes;
  if (ok) {
    char buf[4096];
    ssize_t n = 0;
    while (text.size() <= max_config_bytes && ((n = ::read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)))
      if (n > 0) text.append(buf, static_cast<std::size_t>(n));
    ok = n == 0 && text.size() <= max_config_bytes;
  }
  ::close(fd);
  if (!ok)
    return fail(error_code::io_error,
                "cannot read config " + path.string() + " (not a regular file, unreadable, or over 1 MiB)");
  return load(text, path.string(), env, overrides, st.st_mode);
}

}  // namespace ec::agent
