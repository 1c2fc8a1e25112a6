// A weekly local-time window ("Mon-Fri 22:00-07:00") in which the owner lets the agent work, or forbids it.
#pragma once

#include <bitset>
#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

#include "ec/protocol/error.hpp"

namespace ec::agent {

/// A moment in local time, as far as windows care: the weekday (0 = Monday) and the minute of that day.
struct week_minute {
  int weekday = 0;  // 0 Monday .. 6 Sunday
  int minute = 0;   // 0 .. 1439
};

/// The local weekday and minute of a wall-clock time (localtime_r, so TZ and DST apply).
week_minute local_week_minute(std::time_t t);

/// Days and a daily span; a span whose end is not after its start runs past midnight into the next day.
struct time_window {
  std::bitset<7> days;   // the days the span starts on; bit 0 = Monday
  int start_minute = 0;  // inclusive
  int end_minute = 0;    // exclusive; 1440 = midnight at the end of the day
  std::string text;      // as written, for reasons and logs

  /// True when the moment falls inside the window.
  [[nodiscard]] bool contains(week_minute m) const;
};

/// Parses "[DAYS ]HH:MM-HH:MM": DAYS is `*` or a comma list of Mon..Sun and ranges (`Mon-Fri`, `Fri-Mon`);
/// no DAYS means every day. `24:00` is allowed as an end. Errors say what is wrong.
result<time_window> parse_time_window(std::string_view text);

}  // namespace ec::agent
