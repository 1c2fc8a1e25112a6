// The EC_FAILPOINTS parser: well-formed specs arm what they say; malformed ones are refused with a message that
// names the entry and the rule (a test that thinks it armed a failpoint must never run unarmed).
#include "ec/common/failpoint.hpp"

#include <doctest/doctest.h>

#include <string>

namespace ec {
namespace {

std::string refusal(std::string_view text) {
  const auto r = parse_failpoints(text);
  REQUIRE_MESSAGE(!r.ok(), "accepted: " << std::string(text));
  CHECK(r.code() == error_code::invalid_argument);
  return r.err().message;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST_CASE("failpoint parser arms each named failpoint with its action and hit number") {
  const auto r =
      parse_failpoints(" agent.after_journal_before_publish = kill@3 ,aggregator.after_commit_before_receipt=kill");
  REQUIRE(r.ok());
  REQUIRE(r->size() == 2);
  CHECK((*r)[0].name == "agent.after_journal_before_publish");
  CHECK((*r)[0].action == failpoint_action::kill);
  CHECK((*r)[0].on_hit == 3);
  CHECK((*r)[1].name == "aggregator.after_commit_before_receipt");
  CHECK((*r)[1].on_hit == 1);
}

TEST_CASE("failpoint parser arms nothing for an empty or blank spec") {
  for (const char* text : {"", "   ", "\t"}) {
    const auto r = parse_failpoints(text);
    REQUIRE(r.ok());
    CHECK(r->empty());
  }
}

TEST_CASE("failpoint parser refuses malformed specs with a message naming the entry and the rule") {
  CHECK(contains(refusal("agent.x"), "'agent.x': no '='"));
  CHECK(contains(refusal("agent.x=explode"), "unknown action 'explode' (known: kill)"));
  CHECK(contains(refusal("agent.x="), "unknown action ''"));
  CHECK(contains(refusal("=kill"), "name must be 1 to 64 characters of [a-z0-9_.]"));
  CHECK(contains(refusal("Agent.X=kill"), "name must be"));
  CHECK(contains(refusal("agent x=kill"), "name must be"));
  CHECK(contains(refusal(std::string(65, 'a') + "=kill"), "name must be"));
  CHECK(contains(refusal("agent.x=kill@"), "no hit count after '@'"));
  CHECK(contains(refusal("agent.x=kill@0"), "hit count 0"));
  CHECK(contains(refusal("agent.x=kill@-1"), "is not a decimal number"));
  CHECK(contains(refusal("agent.x=kill@3x"), "is not a decimal number"));
  CHECK(contains(refusal("agent.x=kill@99999999999999999999999"), "hit count above"));
  CHECK(contains(refusal("agent.x=kill,agent.x=kill@2"), "armed twice"));
  CHECK(contains(refusal("agent.x=kill,"), "empty entry"));
  CHECK(contains(refusal(",agent.x=kill"), "empty entry"));
  CHECK(contains(refusal("agent.x=kill,,agent.y=kill"), "empty entry"));
  CHECK(contains(refusal(std::string(5000, 'a')), "longer than 4096 characters"));
}

TEST_CASE("failpoint parser refuses more than 32 entries") {
  std::string text;
  for (int i = 0; i < 33; ++i) text += (i ? "," : "") + std::string("fp") + std::to_string(i) + "=kill";
  CHECK(contains(refusal(text), "more than 32 failpoints"));
}

TEST_CASE("failpoint parser shows control bytes of a refused entry as question marks") {
  const std::string msg = refusal(std::string("agent.x=ki\x01\x7f", 12));
  CHECK(contains(msg,
                 "'agent.x=ki?"
                 "?'"));  // split: two ? then a quote form a trigraph
}

}  // namespace
}  // namespace ec
