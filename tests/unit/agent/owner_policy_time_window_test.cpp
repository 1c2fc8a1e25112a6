// Weekly local-time windows: parsing, clear errors, and matching (including overnight and week-wrapping spans).
#include <doctest/doctest.h>

#include <cstdlib>
#include <ctime>
#include <string>

#include "ec/agent/time_window.hpp"

using ec::agent::parse_time_window;
using ec::agent::time_window;
using ec::agent::week_minute;

namespace {

constexpr int mon = 0, tue = 1, fri = 4, sat = 5, sun = 6;

time_window parsed(const std::string& text) {
  auto w = parse_time_window(text);
  REQUIRE_MESSAGE(w.ok(), text << ": " << (w.ok() ? std::string() : w.err().message));
  return *w;
}

int at(int h, int m) { return h * 60 + m; }

}  // namespace

TEST_CASE("a weekday window covers its days and hours and nothing else") {
  const auto w = parsed("Mon-Fri 09:00-17:00");
  CHECK(w.contains({mon, at(9, 0)}));
  CHECK(w.contains({fri, at(16, 59)}));
  CHECK_FALSE(w.contains({fri, at(17, 0)}));  // the end is exclusive
  CHECK_FALSE(w.contains({mon, at(8, 59)}));
  CHECK_FALSE(w.contains({sat, at(12, 0)}));
}

TEST_CASE("an overnight window runs into the next morning of the day it starts on") {
  const auto w = parsed("Fri 22:00-06:00");
  CHECK(w.contains({fri, at(23, 0)}));
  CHECK(w.contains({sat, at(5, 59)}));
  CHECK_FALSE(w.contains({sat, at(6, 0)}));
  CHECK_FALSE(w.contains({fri, at(5, 0)}));  // Friday morning belongs to a Thursday start
  const auto sunday_night = parsed("Sun 23:00-01:00");
  CHECK(sunday_night.contains({mon, at(0, 30)}));  // wraps the week
}

TEST_CASE("a window without days means every day, and day lists and wrapping ranges parse") {
  const auto daily = parsed("22:00-07:00");
  for (int d = 0; d < 7; ++d) CHECK(daily.contains({d, at(2, 0)}));
  const auto weekend = parsed("sat,SUN 00:00-24:00");
  CHECK(weekend.contains({sat, 0}));
  CHECK(weekend.contains({sun, at(23, 59)}));
  CHECK_FALSE(weekend.contains({mon, 0}));
  const auto long_weekend = parsed("Fri-Mon 10:00-12:00");
  CHECK(long_weekend.contains({fri, at(11, 0)}));
  CHECK(long_weekend.contains({mon, at(11, 0)}));
  CHECK_FALSE(long_weekend.contains({tue, at(11, 0)}));
  CHECK(parsed("* 00:00-24:00").contains({tue, at(12, 0)}));
}

TEST_CASE("malformed windows are refused with a message that says what is wrong") {
  struct bad {
    const char* text;
    const char* says;
  };
  for (const auto& b :
       {bad{"", "empty"}, bad{"Mon-Fri", "HH:MM"}, bad{"Mon-Fri 9:00-17:00", "HH:MM"},
        bad{"Mon-Fri 09:00-25:00", "not a time of day"}, bad{"Mon-Fri 24:00-06:00", "not a time"},
        bad{"Mon-Fri 09:60-10:00", "not a time"}, bad{"Monday 09:00-10:00", "Mon..Sun"},
        bad{"Mon-Xyz 09:00-10:00", "Mon..Sun"}, bad{"Mon 09:00-09:00", "empty"}, bad{"Mon 09:00-10:00x", "HH:MM"}}) {
    const auto w = parse_time_window(b.text);
    REQUIRE_MESSAGE(!w.ok(), "accepted: '" << b.text << "'");
    CHECK_MESSAGE(w.err().message.find(b.says) != std::string::npos, b.text << " -> " << w.err().message);
  }
}

TEST_CASE("local week minute maps a wall-clock time to the local weekday and minute") {
  // Under TZ=UTC0: 1795000000 is Wednesday 2026-11-18 11:06:40 UTC. The previous TZ is restored afterwards.
  const char* old = std::getenv("TZ");
  const std::string saved = old ? old : "";
  ::setenv("TZ", "UTC0", 1);
  ::tzset();
  const auto m = ec::agent::local_week_minute(1'795'000'000);
  if (old)
    ::setenv("TZ", saved.c_str(), 1);
  else
    ::unsetenv("TZ");
  ::tzset();
  CHECK(m.weekday == 2);
  CHECK(m.minute == 11 * 60 + 6);
}
