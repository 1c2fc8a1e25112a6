// The hysteresis latch under a reading that flaps around its threshold.
#include <doctest/doctest.h>

#include "ec/agent/hysteresis.hpp"

using ec::agent::hysteresis;

TEST_CASE("hysteresis pauses on the first reading over the threshold") {
  hysteresis h(300'000);
  CHECK_FALSE(h.update(false, 0));
  CHECK(h.update(true, 1000));
  CHECK(h.active());
}

TEST_CASE("hysteresis holds through a reading that flaps every second and releases only after a clear hold") {
  hysteresis h(5000);
  std::uint64_t t = 0;
  int state_changes = 0;
  bool last = false;
  // Flapping around the threshold for a minute: one pause, no resume in between.
  for (int i = 0; i <= 60; ++i, t += 1000) {  // ends on a reading over the threshold
    const bool held = h.update(i % 2 == 0, t);
    state_changes += held != last ? 1 : 0;
    last = held;
  }
  CHECK(state_changes == 1);
  CHECK(h.active());
  // Clear from now: still held until 5 s of clear readings have passed.
  const auto clear_from = t;
  for (; t < clear_from + 5000; t += 1000) CHECK(h.update(false, t));
  CHECK(h.clear_for_ms(t - 1000) == 4000);
  CHECK_FALSE(h.update(false, t));
  CHECK(h.clear_for_ms(t) == 0);
}

TEST_CASE("hysteresis restarts the clear period when the condition returns during it") {
  hysteresis h(3000);
  h.update(true, 0);
  h.update(false, 1000);
  h.update(false, 3000);
  CHECK(h.update(true, 3500));   // back before 3 s of clear
  CHECK(h.update(false, 4000));  // the clear period starts again here
  CHECK(h.update(false, 6500));
  CHECK_FALSE(h.update(false, 7000));
}

TEST_CASE("hysteresis with a zero hold releases on the first clear reading") {
  hysteresis h(0);
  CHECK(h.update(true, 10));
  CHECK_FALSE(h.update(false, 10));
}

TEST_CASE("hysteresis does not stay held forever when the clock steps back") {
  hysteresis h(2000);
  h.update(true, 100'000);
  CHECK(h.update(false, 101'000));
  CHECK(h.update(false, 50'000));  // wall clock stepped back: the clear period restarts from here
  CHECK(h.update(false, 51'000));
  CHECK_FALSE(h.update(false, 52'000));
}
