// Parsing and matching of weekly local-time windows. Overnight spans belong to the day they start on, which is
// how owners say it ("Fri 22:00-06:00" includes Saturday 05:00).
#include "ec/agent/time_window.hpp"

#include <array>
#include <cctype>

namespace ec::agent {
namespace {

constexpr std::array<std::string_view, 7> day_names{"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

int day_index(std::string_view name) {
  if (name.size() != 3) return -1;
  std::string lower;
  for (const char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (std::size_t i = 0; i < day_names.size(); ++i)
    if (day_names[i] == lower) return static_cast<int>(i);
  return -1;
}

// "HH:MM" -> minute of the day; 24:00 only where allow_end_of_day.
result<int> parse_clock(std::string_view s, bool allow_end_of_day) {
  s = trim(s);
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (s.size() != 5 || s[2] != ':' || !digit(s[0]) || !digit(s[1]) || !digit(s[3]) || !digit(s[4]))
    return fail(error_code::invalid_argument, "time '" + std::string(s) + "' must be HH:MM");
  const int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
  if (m > 59 || h > 24 || (h == 24 && (m != 0 || !allow_end_of_day)))
    return fail(error_code::invalid_argument, "time '" + std::string(s) + "' is not a time of day");
  return h * 60 + m;
}

// "*", "Mon-Fri", "Sat,Sun", "Fri-Mon,Wed".
result<std::bitset<7>> parse_days(std::string_view s) {
  std::bitset<7> days;
  if (trim(s) == "*") return days.set();
  for (std::size_t pos = 0; pos <= s.size();) {
    const auto comma = std::min(s.find(',', pos), s.size());
    const auto item = trim(s.substr(pos, comma - pos));
    pos = comma + 1;
    const auto dash = item.find('-');
    const int first = day_index(trim(item.substr(0, dash)));
    const int last = dash == std::string_view::npos ? first : day_index(trim(item.substr(dash + 1)));
    if (first < 0 || last < 0)
      return fail(error_code::invalid_argument,
                  "days '" + std::string(item) + "' must be Mon..Sun, a range such as Mon-Fri, or *");
    for (int d = first;; d = (d + 1) % 7) {  // a range may wrap the week: Fri-Mon
      days.set(static_cast<std::size_t>(d));
      if (d == last) break;
    }
  }
  return days;
}

}  // namespace

week_minute local_week_minute(std::time_t t) {
  std::tm tm{};
  localtime_r(&t, &tm);
  return {(tm.tm_wday + 6) % 7, tm.tm_hour * 60 + tm.tm_min};
}

bool time_window::contains(week_minute m) const {
  const auto on = [&](int day) { return days.test(static_cast<std::size_t>((day + 7) % 7)); };
  if (start_minute < end_minute) return on(m.weekday) && m.minute >= start_minute && m.minute < end_minute;
  // Overnight: the evening part today, the morning part from the span that started yesterday.
  return (on(m.weekday) && m.minute >= start_minute) || (on(m.weekday - 1) && m.minute < end_minute);
}

result<time_window> parse_time_window(std::string_view text) {
  const auto t = trim(text);
  if (t.empty()) return fail(error_code::invalid_argument, "empty window; write e.g. \"Mon-Fri 09:00-17:00\"");
  const auto space = t.rfind(' ');
  const auto span = space == std::string_view::npos ? t : t.substr(space + 1);
  time_window w;
  w.text = std::string(t);
  if (space == std::string_view::npos) {
    w.days.set();
  } else {
    auto days = parse_days(t.substr(0, space));
    if (!days) return days.err();
    w.days = *days;
  }
  const auto dash = span.find('-');
  if (dash == std::string_view::npos)
    return fail(error_code::invalid_argument, "span '" + std::string(span) + "' must be HH:MM-HH:MM");
  auto start = parse_clock(span.substr(0, dash), false);
  if (!start) return start.err();
  auto end = parse_clock(span.substr(dash + 1), true);
  if (!end) return end.err();
  w.start_minute = *start;
  w.end_minute = *end;
  if (w.start_minute == w.end_minute)
    return fail(error_code::invalid_argument, "span '" + std::string(span) + "' is empty (start equals end)");
  return w;
}

}  // namespace ec::agent
