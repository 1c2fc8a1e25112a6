// A minimal JSON reader for test data files (the hostile-broker cases): objects, arrays, strings, numbers,
// booleans and null, enough for data we ship ourselves; not a general-purpose or streaming parser.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace ec::test::json {

struct value;
using array = std::vector<value>;
using object = std::map<std::string, value, std::less<>>;

/// One JSON value; arrays and objects own their children.
struct value {
  std::variant<std::nullptr_t, bool, double, std::string, std::shared_ptr<array>, std::shared_ptr<object>> v;

  [[nodiscard]] bool is_array() const { return std::holds_alternative<std::shared_ptr<array>>(v); }
  [[nodiscard]] bool is_object() const { return std::holds_alternative<std::shared_ptr<object>>(v); }
  [[nodiscard]] bool is_string() const { return std::holds_alternative<std::string>(v); }
  [[nodiscard]] bool is_bool() const { return std::holds_alternative<bool>(v); }
  [[nodiscard]] bool is_number() const { return std::holds_alternative<double>(v); }
  /// The array; throws std::runtime_error when this is not one.
  [[nodiscard]] const array& as_array() const;
  /// The object; throws std::runtime_error when this is not one.
  [[nodiscard]] const object& as_object() const;
  /// The string; throws std::runtime_error when this is not one.
  [[nodiscard]] const std::string& as_string() const;
  /// The member `key` of an object, or nullptr when absent (or when this is not an object).
  [[nodiscard]] const value* find(std::string_view key) const;
};

/// Parses one JSON document; throws std::runtime_error with the byte offset on malformed input.
value parse(std::string_view text);

}  // namespace ec::test::json
