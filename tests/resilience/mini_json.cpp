// Recursive descent over the text; depth-limited so that a malformed file cannot exhaust the stack.
#include "mini_json.hpp"

#include <cstdlib>
#include <stdexcept>

namespace ec::test::json {
namespace {

constexpr int max_depth = 64;

class parser {
 public:
  explicit parser(std::string_view text) : s_(text) {}

  value document() {
    value out = parse_value(0);
    skip_space();
    if (pos_ != s_.size()) fail("trailing characters");
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw std::runtime_error("json: " + why + " at byte " + std::to_string(pos_));
  }

  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t')) ++pos_;
  }

  char peek() {
    skip_space();
    if (pos_ >= s_.size()) fail("unexpected end");
    return s_[pos_];
  }

  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }

  bool take_literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  value parse_value(int depth) {
    if (depth > max_depth) fail("nesting too deep");
    const char c = peek();
    if (c == '{') return parse_object(depth);
    if (c == '[') return parse_array(depth);
    if (c == '"') return value{parse_string()};
    if (take_literal("true")) return value{true};
    if (take_literal("false")) return value{false};
    if (take_literal("null")) return value{nullptr};
    return value{parse_number()};
  }

  value parse_object(int depth) {
    auto obj = std::make_shared<object>();
    expect('{');
    if (peek() == '}') {
      ++pos_;
      return value{obj};
    }
    for (;;) {
      if (peek() != '"') fail("expected a member name");
      std::string key = parse_string();
      expect(':');
      (*obj)[key] = parse_value(depth + 1);
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      expect('}');
      return value{obj};
    }
  }

  value parse_array(int depth) {
    auto arr = std::make_shared<array>();
    expect('[');
    if (peek() == ']') {
      ++pos_;
      return value{arr};
    }
    for (;;) {
      arr->push_back(parse_value(depth + 1));
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      expect(']');
      return value{arr};
    }
  }

  // Escapes other than \uXXXX are decoded; \uXXXX below 0x80 is decoded, others are refused (our data is ASCII).
  std::string parse_string() {
    expect('"');
    std::string out;
    while (pos_ < s_.size() && s_[pos_] != '"') {
      char c = s_[pos_++];
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) fail("unterminated escape");
      c = s_[pos_++];
      switch (c) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'u': {
          if (pos_ + 4 > s_.size()) fail("short \\u escape");
          const unsigned long code = std::strtoul(std::string(s_.substr(pos_, 4)).c_str(), nullptr, 16);
          if (code >= 0x80) fail("non-ASCII \\u escape");
          out += static_cast<char>(code);
          pos_ += 4;
          break;
        }
        default:
          out += c;  // \" \\ \/
      }
    }
    if (pos_ >= s_.size()) fail("unterminated string");
    ++pos_;
    return out;
  }

  double parse_number() {
    const std::size_t start = pos_;
    while (pos_ < s_.size() && std::string_view("+-0123456789.eE").find(s_[pos_]) != std::string_view::npos) ++pos_;
    if (pos_ == start) fail("unexpected character");
    return std::strtod(std::string(s_.substr(start, pos_ - start)).c_str(), nullptr);
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

}  // namespace

const array& value::as_array() const {
  if (!is_array()) throw std::runtime_error("json: not an array");
  return *std::get<std::shared_ptr<array>>(v);
}

const object& value::as_object() const {
  if (!is_object()) throw std::runtime_error("json: not an object");
  return *std::get<std::shared_ptr<object>>(v);
}

const std::string& value::as_string() const {
  if (!is_string()) throw std::runtime_error("json: not a string");
  return std::get<std::string>(v);
}

const value* value::find(std::string_view key) const {
  if (!is_object()) return nullptr;
  const auto& obj = as_object();
  const auto it = obj.find(key);
  return it == obj.end() ? nullptr : &it->second;
}

value parse(std::string_view text) { return parser(text).document(); }

}  // namespace ec::test::json
