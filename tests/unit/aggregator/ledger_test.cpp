// The ledger on a real database: chaining, checkpoints by count and time, and every kind of tampering found.
#include "ec/aggregator/ledger.hpp"

#include "ec/protocol/mbedtls_signer.hpp"
#include "storage_test_support.hpp"

namespace ec::aggregator {
namespace {

using namespace ec::aggregator::test;

std::unique_ptr<protocol::mbedtls_signer> make_signer() {
  auto key = protocol::private_key::generate();
  REQUIRE(key.ok());
  return std::make_unique<protocol::mbedtls_signer>(std::move(key).value());
}

checkpoint_trust trusting(const protocol::signer& s) {
  checkpoint_trust t(protocol::mbedtls_verifier_factory());
  t.trust(s.key());
  return t;
}

// A region with `n` validated work units recorded through a ledger that checkpoints every `every` entries.
struct region {
  temp_dir dir;
  std::unique_ptr<sqlite_storage> db;
  std::unique_ptr<protocol::mbedtls_signer> key = make_signer();
  std::unique_ptr<ledger> book;

  explicit region(int n, std::uint64_t every = 4, std::uint64_t every_ms = 1'000'000) {
    db = open_db(dir.db());
    book = std::make_unique<ledger>(*db, *key, ledger_config{every, every_ms});
    const auto a = admit(*db, "a", "alice");
    admit(*db, "b", "bob");
    add_job(*db, "job", n, 1);
    auto tasks = lease(*db, a, static_cast<std::uint32_t>(n), 1000, "r");
    for (int i = 0; i < n; ++i) validate(tasks[static_cast<std::size_t>(i)].wu_id, 2000 + i);
  }
  void validate(const std::string& wu_id, int at) {
    validation_commit v;
    v.wu_id = wu_id;
    v.canonical_digest = digest_of("output of " + wu_id);
    v.principals = at % 2 == 0 ? std::vector<std::string>{"bob", "alice"} : std::vector<std::string>{"alice"};
    v.now_ms = static_cast<std::uint64_t>(at);
    REQUIRE(must(book->record_validation(v)).has_value());
  }
  ledger_verification verify() { return must(verify_ledger(*db, trusting(*key))); }
};

void require_problem(const ledger_verification& v, std::uint64_t seq, const std::string& words) {
  REQUIRE_MESSAGE(!v.ok(), "the ledger verified although it was tampered with");
  INFO("reported: entry " << v.first_problem->seq << ": " << v.first_problem->reason);
  CHECK(v.first_problem->seq == seq);
  CHECK(v.first_problem->reason.find(words) != std::string::npos);
}

TEST_CASE("the ledger chains every validation and signs a checkpoint every N entries") {
  region r(10);
  auto entries = must(r.db->ledger_entries(1, 100));
  REQUIRE(entries.size() == 10);
  CHECK(entries[0].prev_hash == sha256_digest{});
  for (std::size_t i = 1; i < entries.size(); ++i) {
    CHECK(entries[i].seq == i + 1);
    CHECK(entries[i].prev_hash == entries[i - 1].entry_hash);
    CHECK(entries[i].entry_hash == ledger_entry_hash(entries[i]));
  }
  CHECK(entries[1].principals == std::vector<std::string>{"alice"});
  CHECK(entries[0].principals == std::vector<std::string>{"alice", "bob"});

  auto cps = must(r.db->checkpoints());
  REQUIRE(cps.size() == 2);
  CHECK(cps[0].count == 4);
  CHECK(cps[1].count == 8);
  CHECK(cps[1].head_hash == entries[7].entry_hash);
  CHECK(cps[1].signer == r.key->key().id());

  auto v = r.verify();
  CHECK(v.ok());
  CHECK(v.entries == 10);
  CHECK(v.checkpointed_through == 8);

  CHECK(must(r.book->checkpoint_now(5000)));
  CHECK_FALSE(must(r.book->checkpoint_now(5001)));
  CHECK(r.verify().checkpointed_through == 10);
}

TEST_CASE("a checkpoint is signed after T ms even when fewer than N entries are uncovered") {
  region r(1, 1000, 500);  // the entry at 2000 starts the clock
  CHECK(must(r.db->checkpoints()).empty());
  CHECK_FALSE(must(r.book->maybe_checkpoint(2499)));
  CHECK(must(r.book->maybe_checkpoint(2500)));
  CHECK(must(r.db->last_checkpoint())->count == 1);
  CHECK_FALSE(must(r.book->maybe_checkpoint(9000)));  // nothing new to cover
  CHECK(r.verify().ok());
}

TEST_CASE("a flipped byte in any stored field of an entry is found and the entry named") {
  for (const char* column : {"prev_hash", "entry_hash", "wu_id", "canonical_digest", "principals", "time_ms"}) {
    CAPTURE(column);
    region r(10);
    raw_db(r.dir.db()).flip("ledger", column, "seq = 6");
    const auto v = r.verify();
    require_problem(v, 6, "entry 6");
  }
}

TEST_CASE("a deleted entry is named") {
  region r(10);
  raw_db(r.dir.db()).exec("DELETE FROM ledger WHERE seq = 5");
  require_problem(r.verify(), 5, "entry 5 is missing");
}

TEST_CASE("a tail truncated after the last checkpoint is detected") {
  region r(10);  // checkpoints at 4 and 8
  raw_db(r.dir.db()).exec("DELETE FROM ledger WHERE seq > 8");
  require_problem(r.verify(), 9, "the tail was truncated");
}

TEST_CASE("a tail truncated below a checkpoint is detected even when the work units are edited to match") {
  region r(10);
  raw_db raw(r.dir.db());
  raw.exec("DELETE FROM ledger WHERE seq > 6");
  raw.exec("UPDATE work_units SET ledger_seq = 0, state = 'pending' WHERE ledger_seq > 6");
  require_problem(r.verify(), 7, "checkpoint covers 8 entries");
}

TEST_CASE("a forged checkpoint signature, a moved head and an untrusted signer are detected") {
  SUBCASE("signature") {
    region r(10);
    raw_db(r.dir.db()).flip("checkpoints", "signature", "count = 8");
    require_problem(r.verify(), 8, "bad signature");
  }
  SUBCASE("head hash") {
    region r(10);
    raw_db(r.dir.db()).flip("checkpoints", "head_hash", "count = 4");
    require_problem(r.verify(), 4, "bad signature");
  }
  SUBCASE("count") {
    region r(10);
    raw_db(r.dir.db()).exec("UPDATE checkpoints SET count = 9 WHERE count = 8");
    require_problem(r.verify(), 9, "bad signature");
  }
  SUBCASE("untrusted key") {
    region r(10);
    auto stranger = make_signer();
    const auto v = must(verify_ledger(*r.db, trusting(*stranger)));
    require_problem(v, 4, "untrusted key");
  }
}

TEST_CASE("a chain rewritten consistently after a checkpoint is caught by the checkpoint") {
  region r(10);
  auto entries = must(r.db->ledger_entries(1, 100));
  raw_db raw(r.dir.db());
  // Entry 3 gets another canonical digest; entries 3..10 are re-hashed so the chain itself is consistent.
  entries[2].canonical_digest = digest_of("a forged output");
  for (std::size_t i = 2; i < entries.size(); ++i) {
    if (i > 2) entries[i].prev_hash = entries[i - 1].entry_hash;
    entries[i].entry_hash = ledger_entry_hash(entries[i]);
    const std::string where = "seq = " + std::to_string(entries[i].seq);
    raw.set_blob("ledger", "canonical_digest", where, entries[i].canonical_digest);
    raw.set_blob("ledger", "prev_hash", where, entries[i].prev_hash);
    raw.set_blob("ledger", "entry_hash", where, entries[i].entry_hash);
  }
  require_problem(r.verify(), 4, "rewritten");
}

TEST_CASE("the entry hash covers every field and the checkpoint digest is domain-separated") {
  ledger_entry e;
  e.seq = 7;
  e.wu_id = "job/7";
  e.canonical_digest = digest_of("x");
  e.principals = {"alice", "bob"};
  e.time_ms = 1234;
  const auto base = ledger_entry_hash(e);
  auto changed = [&](auto edit) {
    ledger_entry c = e;
    edit(c);
    return ledger_entry_hash(c) != base;
  };
  CHECK(changed([](ledger_entry& c) { c.seq = 8; }));
  CHECK(changed([](ledger_entry& c) { c.prev_hash[31] = 1; }));
  CHECK(changed([](ledger_entry& c) { c.wu_id = "job/8"; }));
  CHECK(changed([](ledger_entry& c) { c.canonical_digest[0] ^= 1; }));
  CHECK(changed([](ledger_entry& c) { c.principals = {"alicebob"}; }));
  CHECK(changed([](ledger_entry& c) { c.principals = {"alice", "bob", "carol"}; }));
  CHECK(changed([](ledger_entry& c) { c.time_ms = 1235; }));
  CHECK(canonical_principals({"b", "a", "b"}) == std::vector<std::string>{"a", "b"});

  const key_id k = digest_of("key");
  const auto d = checkpoint_digest(k, 4, base, 99);
  CHECK(d != checkpoint_digest(k, 5, base, 99));
  CHECK(d != checkpoint_digest(k, 4, base, 100));
  CHECK(d != checkpoint_digest(digest_of("other key"), 4, base, 99));
}

}  // namespace
}  // namespace ec::aggregator
