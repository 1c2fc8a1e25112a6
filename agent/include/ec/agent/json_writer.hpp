// A minimal streaming JSON writer for the agent's machine-readable output (probe --json, bench --json);
// small enough that the agent needs no JSON library.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ec::agent {

class json_writer {
public:
  json_writer& begin_object();
  json_writer& end_object();
  json_writer& begin_array();
  json_writer& end_array();
  /// The key of the next value inside an object.
  json_writer& key(std::string_view k);
  json_writer& value(std::string_view s);
  json_writer& value(const char* s) { return value(std::string_view(s)); }
  json_writer& value(bool b);
  json_writer& value(double d);  // NaN and infinities are written as null (JSON has no such numbers)
  json_writer& value(std::uint64_t n);
  json_writer& null();
  /// The document so far.
  [[nodiscard]] const std::string& str() const { return out_; }

private:
  void before_value();
  std::string out_;
  std::vector<bool> first_;  // per open container: no comma needed yet
  bool after_key_ = false;
};

}  // namespace ec::agent
