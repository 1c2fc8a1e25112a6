// Field rules (the data set's README): `expect_disconnect` and `connack`/`connect` default to true and a test's
// own value overrides its group's; `ver` likewise. `connect: false` is read as `connack: false` (the data uses
// both spellings for "the case's bytes come instead of the CONNACK"). A group's `group_msgs` (the packet the
// client sends for the group's `command`) are kept apart from the test's `msgs`: the caller decides how the
// command is triggered.
#include "hostile_cases.hpp"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "mini_json.hpp"

namespace ec::test {
namespace {

std::string read_text(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw std::runtime_error("hostile cases: cannot read " + p.string());
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A boolean field of the test, else of the group, else `fallback`.
bool flag(const json::value& test, const json::value& group, std::string_view key, bool fallback) {
  for (const json::value* v : {test.find(key), group.find(key)}) {
    if (v != nullptr && v->is_bool()) return std::get<bool>(v->v);
  }
  return fallback;
}

int version_of(const json::value& test, const json::value& group) {
  for (const json::value* v : {test.find("ver"), group.find("ver")}) {
    if (v != nullptr && v->is_number()) return static_cast<int>(std::get<double>(v->v));
  }
  throw std::runtime_error("hostile cases: a group without `ver`");
}

void append_steps(const json::value* msgs, std::vector<script_step>& out) {
  if (msgs == nullptr) return;
  for (const auto& m : msgs->as_array()) {
    const auto& type = m.find("type")->as_string();
    if (type != "send" && type != "recv") throw std::runtime_error("hostile cases: message type " + type);
    out.push_back({type == "send", decode_hex(m.find("payload")->as_string())});
  }
}

void load_file(const std::filesystem::path& path, int version, std::vector<hostile_case>& out) {
  const auto doc = json::parse(read_text(path));
  for (const auto& group : doc.as_array()) {
    const std::string group_name = group.find("group")->as_string();
    const json::value* command = group.find("command");
    for (const auto& test : group.find("tests")->as_array()) {
      if (version_of(test, group) != version) continue;
      hostile_case c;
      c.file = path.filename().string();
      c.group = group_name;
      c.name = test.find("name")->as_string();
      c.version = version;
      c.command = command != nullptr ? command->as_string() : "";
      c.script.expect_disconnect = flag(test, group, "expect_disconnect", true);
      c.script.handshake = flag(test, group, "connack", true) && flag(test, group, "connect", true);
      append_steps(group.find("group_msgs"), c.group_steps);
      append_steps(test.find("msgs"), c.script.steps);
      out.push_back(std::move(c));
    }
  }
}

}  // namespace

std::uint8_t hostile_case::first_byte() const {
  for (const auto& s : script.steps) {
    if (s.from_broker && !s.bytes.empty()) return s.bytes.front();
  }
  return 0;
}

std::vector<std::uint8_t> decode_hex(const std::string& hex) {
  std::vector<std::uint8_t> out;
  int high = -1;
  for (const char ch : hex) {
    if (ch == ' ') continue;
    int v = -1;
    if (ch >= '0' && ch <= '9') v = ch - '0';
    if (ch >= 'a' && ch <= 'f') v = ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') v = ch - 'A' + 10;
    if (v < 0) throw std::runtime_error("hostile cases: bad hex '" + hex + "'");
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(high * 16 + v));
      high = -1;
    }
  }
  if (high >= 0) throw std::runtime_error("hostile cases: odd hex '" + hex + "'");
  return out;
}

std::vector<hostile_case> load_hostile_cases(const std::filesystem::path& dir, int version) {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".json") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<hostile_case> out;
  for (const auto& f : files) load_file(f, version, out);
  return out;
}

std::vector<hostile_case> representative_subset(const std::vector<hostile_case>& all, std::size_t every_nth) {
  std::set<std::string> groups;
  std::set<std::uint8_t> first_bytes;
  std::vector<hostile_case> out;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const bool new_group = groups.insert(all[i].file + all[i].group).second;
    const bool new_byte = first_bytes.insert(all[i].first_byte()).second;
    if (new_group || new_byte || (every_nth != 0 && i % every_nth == 0)) out.push_back(all[i]);
  }
  return out;
}

}  // namespace ec::test
