// The aggregator config file and enrollment: defaults, errors naming line and key, relative paths, tokens binding
// keys to one principal, open and allowlist modes.
#include "ec/aggregator/aggregator_config.hpp"

#include <fstream>

#include "ec/aggregator/enrollment.hpp"
#include "storage_test_support.hpp"

namespace ec::aggregator::test {
namespace {

protocol::public_key fresh_key() {
  auto k = protocol::private_key::generate();
  REQUIRE(k.ok());
  return k->public_half();
}

TEST_CASE("aggregator config defaults, relative paths and every error naming its line and key") {
  auto c = parse_aggregator_config("", "a.toml", "/etc/ec");
  REQUIRE(c.ok());
  CHECK(c->database == "/etc/ec/region.db");
  CHECK(c->key_file == "/etc/ec/aggregator.key");
  CHECK(c->enrollment == enrollment_mode::token);

  c = parse_aggregator_config(
      "[region]\nname = \"eu-1\"\n[storage]\ndatabase = \"/var/r.db\"\n[enrollment]\nmode = \"open\"\n"
      "[work]\ntarget_batch_seconds = 5\n[log]\nlevel = \"debug\"\n",
      "a.toml", "/etc/ec");
  REQUIRE(c.ok());
  CHECK(c->region == "eu-1");
  CHECK(c->database == "/var/r.db");
  CHECK(c->enrollment == enrollment_mode::open);
  CHECK(c->target_batch_seconds == 5.0);
  CHECK(c->level == log_level::debug);

  auto bad = parse_aggregator_config("[work]\n\ntick_ms = \"fast\"\n", "a.toml", "");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.err().message.find("a.toml:3: work.tick_ms") != std::string::npos);
  bad = parse_aggregator_config("[broker]\nurll = \"x\"\n", "a.toml", "");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.err().message.find("broker.urll: unknown key") != std::string::npos);
  bad = parse_aggregator_config("[enrollment]\nmode = \"allowlist\"\n", "a.toml", "");
  CHECK_FALSE(bad.ok());
  bad = parse_aggregator_config("[enrollment]\nmode = \"maybe\"\n", "a.toml", "");
  CHECK_FALSE(bad.ok());
  bad = parse_aggregator_config("x = [\n", "a.toml", "");
  CHECK_FALSE(bad.ok());
}

TEST_CASE("one token with a key limit of three binds three keys to one principal and refuses a fourth") {
  temp_dir dir;
  auto db = open_db(dir.db());
  enrollment_gate gate(*db, enrollment_mode::token);
  const auto token = must(generate_token());
  token_row t;
  t.token_hash = token_hash(token);
  t.principal = "owner";
  t.key_limit = 3;
  t.created_at_ms = 1;
  must(db->add_token(t));
  for (int i = 0; i < 3; ++i) {
    auto row = gate.admit(fresh_key(), token, 10);
    REQUIRE(row.ok());
    CHECK(row->principal == "owner");
  }
  CHECK(gate.admit(fresh_key(), token, 10).code() == error_code::untrusted_key);
  CHECK(gate.admit(fresh_key(), "", 10).code() == error_code::untrusted_key);
  CHECK(gate.admit(fresh_key(), "not-a-token", 10).code() == error_code::untrusted_key);
  // An enrolled key is admitted again without a token.
  const auto key = fresh_key();
  enrollment_gate open_gate(*db, enrollment_mode::open);
  auto row = open_gate.admit(key, "", 20);
  REQUIRE(row.ok());
  CHECK(row->principal == open_principal(protocol::agent_id_of(key.id())));
  CHECK(gate.admit(key, "", 30).ok());
}

TEST_CASE("allowlist files admit keys under their principals and name the bad line") {
  temp_dir dir;
  const auto key = fresh_key();
  must(protocol::save_public_key(key, dir.path / "k.pem"));
  {
    std::ofstream f(dir.path / "allow.txt");
    f << "# owners\nlab-1 k.pem  # a Jetson\n\n";
  }
  auto list = load_allowlist((dir.path / "allow.txt").string());
  REQUIRE(list.ok());
  REQUIRE(list->size() == 1);
  auto db = open_db(dir.db());
  enrollment_gate gate(*db, enrollment_mode::allowlist);
  must(gate.admit_allowlist(*list, 5));
  auto row = gate.admit(key, "", 6);
  REQUIRE(row.ok());
  CHECK(row->principal == "lab-1");
  CHECK(gate.admit(fresh_key(), "", 6).code() == error_code::untrusted_key);
  {
    std::ofstream f(dir.path / "bad.txt");
    f << "ok k.pem\nbad name k.pem\n";
  }
  auto bad = load_allowlist((dir.path / "bad.txt").string());
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.err().message.find("bad.txt:2:") != std::string::npos);
}

}  // namespace
}  // namespace ec::aggregator::test
