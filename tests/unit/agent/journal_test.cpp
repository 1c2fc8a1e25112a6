// The journal as the agent uses it after power cuts: real files, reopened, torn, flipped and compacted.
#include <random>

#include "../../../agent/src/journal_codec.hpp"
#include "durability_support.hpp"

namespace ec::agent {
namespace {

using namespace ec::agent::test;

result_batch_spooled make_batch(std::uint64_t id, std::vector<std::string> tasks, std::uint64_t at_ms) {
  result_batch_spooled b;
  b.batch_id = id;
  b.created_at_ms = at_ms;
  for (const auto& t : tasks) b.entries.push_back({t, 1, digest_of("result of " + t)});
  b.envelope = bytes_of("signed envelope #" + std::to_string(id));
  return b;
}

// A journal with every record type committed, in three groups.
void write_every_type(journal& j) {
  REQUIRE(j.write({make_task("t1", 1, 5'000, 111), make_task("t2", 3, 6'000, 222), make_task("t3", 1, 7'000, 5)}).ok());
  REQUIRE(j.write({make_batch(7, {"t1", "t2"}, 1'000), task_finished{"t1", 1}, task_finished{"t2", 3},
                   make_batch(8, {"t3"}, 1'500), control_seq{42}, session_seq{9}})
              .ok());
  REQUIRE(j.write({receipt_applied{"t1", 1, digest_of("result of t1"), true, ""}, batch_published{7, 3, 2'000},
                   batch_dead_lettered{8, 2'500}, journal_meta{20, 10}})
              .ok());
}

TEST_CASE("journal round-trips every record type across a reopen") {
  temp_dir dir;
  std::string before;
  {
    auto j = open_journal(dir.path);
    CHECK(j->open_report().created);
    write_every_type(*j);
    before = summary(*j);
  }
  auto j = open_journal(dir.path);
  CHECK_FALSE(j->open_report().created);
  CHECK(j->open_report().records == 13);
  CHECK(j->open_report().groups == 3);
  CHECK(j->open_report().cut_bytes == 0);
  CHECK(summary(*j) == before);
  j->read([](const journal_state& s) {
    CHECK(s.control_seq == 42);
    CHECK(s.session_seq == 9);
    CHECK(s.next_batch_id == 20);
    CHECK(s.forgotten_before_ms == 10);
    REQUIRE(s.tasks.size() == 3);
    const admitted_task& t3 = s.tasks.at({"t3", 1});
    CHECK_FALSE(t3.finished);
    CHECK(t3.admitted.task_blob == make_task("t3", 1, 7'000).task_blob);
    CHECK(t3.admitted.task_digest == make_task("t3", 1, 7'000).task_digest);
    CHECK(s.tasks.at({"t1", 1}).finished);
    CHECK(s.tasks.at({"t1", 1}).admitted.task_blob.empty());  // a finished task never runs again
    CHECK(s.reserved_bytes == 5);
    REQUIRE(s.batches.size() == 1);  // 8 was dead-lettered
    const pending_batch& b = s.batches.at(7);
    CHECK(b.spooled.envelope == bytes_of("signed envelope #7"));
    CHECK(b.spooled.created_at_ms == 1'000);
    CHECK(b.receipts == std::vector<receipt_state>{receipt_state::accepted, receipt_state::none});
    CHECK(b.publish_count == 3);
    CHECK(b.last_published_ms == 2'000);
    CHECK(s.spooled_bytes == b.spooled.envelope.size());
  });
}

// Three groups: A (two records), B (one), C (two records: the last group, the one torn or flipped).
struct three_groups {
  temp_dir dir;
  std::uint64_t end_a = 0, end_b = 0, end_c = 0;
  bytes file;
  std::string state_a, state_b;

  three_groups() {
    auto j = open_journal(dir.path);
    REQUIRE(j->write({make_task("a", 1, 9'000), control_seq{1}}).ok());
    end_a = j->stats().file_bytes;
    state_a = summary(*j);
    REQUIRE(j->write({make_task("b", 1, 9'000)}).ok());
    end_b = j->stats().file_bytes;
    state_b = summary(*j);
    REQUIRE(j->write({make_task("c", 1, 9'000), control_seq{2}}).ok());
    end_c = j->stats().file_bytes;
    j.reset();
    file = read_all(dir.path / "journal.ecj");
    REQUIRE(file.size() == end_c);
  }
  void install(const bytes& content) const { write_all(dir.path / "journal.ecj", content); }
};

TEST_CASE("journal: a torn tail at every byte offset of the last group is cut and everything before survives") {
  three_groups g;
  for (std::uint64_t cut = g.end_b; cut < g.end_c; ++cut) {
    CAPTURE(cut);
    g.install(bytes(g.file.begin(), g.file.begin() + static_cast<std::ptrdiff_t>(cut)));
    {
      auto j = open_journal(g.dir.path);
      CHECK(j->open_report().cut_bytes == cut - g.end_b);
      CHECK(j->open_report().preserved_cut.empty());  // a torn tail is not worth a copy
      CHECK(summary(*j) == g.state_b);
      CHECK(fs::file_size(g.dir.path / "journal.ecj") == g.end_b);
      // The journal goes on after the cut: a new group lands where the torn one was.
      REQUIRE(j->write({control_seq{7}}).ok());
    }
    auto j = open_journal(g.dir.path);
    CHECK(j->open_report().cut_bytes == 0);
    CHECK(j->read([](const journal_state& s) { return s.control_seq; }) == 7);
  }
}

TEST_CASE("journal: a flipped byte in a middle record cuts that record and every one after it, keeping a copy") {
  three_groups g;
  for (std::uint64_t at = g.end_a; at < g.end_b; ++at) {
    CAPTURE(at);
    bytes bad = g.file;
    bad[at] ^= 0x5A;
    g.install(bad);
    auto j = open_journal(g.dir.path);
    const journal_open_report& r = j->open_report();
    CHECK(r.cut_bytes == g.end_c - g.end_a);
    CHECK_FALSE(r.cut_reason.empty());
    CHECK(summary(*j) == g.state_a);  // group C was fine, but nothing after the damage can be trusted in order
    REQUIRE_FALSE(r.preserved_cut.empty());
    CHECK(read_all(r.preserved_cut) == bytes(bad.begin() + static_cast<std::ptrdiff_t>(g.end_a), bad.end()));
    fs::remove(r.preserved_cut);
  }
}

TEST_CASE("journal: a zero-filled tail (file size grew, data never written) is cut without a copy") {
  three_groups g;
  bytes zeros = g.file;
  zeros.resize(zeros.size() + 4096, 0);
  g.install(zeros);
  auto j = open_journal(g.dir.path);
  CHECK(j->open_report().cut_bytes == 4096);
  CHECK(j->open_report().preserved_cut.empty());
  CHECK(j->read([](const journal_state& s) { return s.control_seq; }) == 2);
}

TEST_CASE("journal: random garbage after the header never crashes the replay") {
  temp_dir dir;
  std::mt19937 rng(1234);
  bytes header;
  {
    auto j = open_journal(dir.path);
    header = read_all(j->path());
  }
  for (int i = 0; i < 300; ++i) {
    bytes file = header;
    const std::size_t n = rng() % 600;
    for (std::size_t k = 0; k < n; ++k) file.push_back(static_cast<std::uint8_t>(rng()));
    if (n >= 2 && i % 2 == 0) {  // half of them with a valid frame magic, to reach the length and CRC checks
      file[16] = 0x1A;
      file[17] = 0xEC;
    }
    write_all(dir.path / "journal.ecj", file);
    auto j = open_journal(dir.path);
    CHECK(j->open_report().cut_bytes == n);
  }
}

// CRC32C written out independently of the journal's table, so that tests can forge frames that pass the CRC.
std::uint32_t crc32c_bitwise(const bytes& data) {
  std::uint32_t c = ~0u;
  for (const std::uint8_t b : data) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
  }
  return ~c;
}

// A frame with a correct CRC around any payload: only the payload decoder stands between it and the state.
bytes forge_frame(std::uint8_t type, const bytes& payload) {
  bytes f{0x1A, 0xEC, type, 0x01};
  for (int i = 0; i < 4; ++i) f.push_back(static_cast<std::uint8_t>(payload.size() >> (8 * i)));
  bytes crc_input(f.begin(), f.end());
  crc_input.insert(crc_input.end(), payload.begin(), payload.end());
  const std::uint32_t crc = crc32c_bitwise(crc_input);
  for (int i = 0; i < 4; ++i) f.push_back(static_cast<std::uint8_t>(crc >> (8 * i)));
  f.insert(f.end(), payload.begin(), payload.end());
  return f;
}

TEST_CASE("journal: crc32c (hardware where the CPU has it) matches the bitwise definition at every length") {
  CHECK(ec::agent::detail::crc32c(bytes_of("123456789")) == 0xE3069283u);
  bytes data;
  for (std::size_t i = 0; i < 300; ++i) data.push_back(static_cast<std::uint8_t>(i * 131 + 7));
  for (std::size_t offset = 0; offset < 9; ++offset) {
    for (std::size_t len = 0; len + offset <= data.size(); len += 13) {
      const bytes part(data.begin() + static_cast<std::ptrdiff_t>(offset),
                       data.begin() + static_cast<std::ptrdiff_t>(offset + len));
      CAPTURE(offset);
      CAPTURE(len);
      CHECK(ec::agent::detail::crc32c(part) == crc32c_bitwise(part));
    }
  }
}

TEST_CASE("journal: the journal's CRC is CRC32C: a forged frame with a correct CRC replays") {
  temp_dir dir;
  bytes file;
  {
    auto j = open_journal(dir.path);
    file = read_all(j->path());
  }
  CHECK(crc32c_bitwise(bytes_of("123456789")) == 0xE3069283u);
  const bytes seq = forge_frame(5, {42, 0, 0, 0, 0, 0, 0, 0});  // control_seq 42
  file.insert(file.end(), seq.begin(), seq.end());
  write_all(dir.path / "journal.ecj", file);
  auto j = open_journal(dir.path);
  CHECK(j->open_report().cut_bytes == 0);
  CHECK(j->read([](const journal_state& s) { return s.control_seq; }) == 42);
}

TEST_CASE("journal: payloads that pass the CRC but are short, long or hostile are cut, never read out of bounds") {
  temp_dir dir;
  bytes header;
  bytes valid;  // the payload of a real result_batch_spooled record
  {
    auto j = open_journal(dir.path);
    header = read_all(j->path());
    REQUIRE(j->write({make_batch(3, {"a", "b"}, 77)}).ok());
    const bytes all = read_all(j->path());
    valid.assign(all.begin() + 16 + 12, all.end());
  }
  auto replay = [&](std::uint8_t type, const bytes& payload) {
    bytes file = header;
    const bytes f = forge_frame(type, payload);
    file.insert(file.end(), f.begin(), f.end());
    write_all(dir.path / "journal.ecj", file);
    auto j = open_journal(dir.path);
    return j->open_report();
  };
  CHECK(replay(3, valid).cut_bytes == 0);
  for (std::size_t k = 0; k < valid.size(); ++k) {  // every truncation of the payload
    CAPTURE(k);
    CHECK(replay(3, bytes(valid.begin(), valid.begin() + static_cast<std::ptrdiff_t>(k))).cut_bytes > 0);
  }
  bytes longer = valid;
  longer.push_back(0);
  CHECK(replay(3, longer).cut_bytes > 0);  // trailing bytes are an error too
  bytes huge_count = valid;
  huge_count[16] = huge_count[17] = huge_count[18] = huge_count[19] = 0xFF;  // 4 billion entries
  CHECK(replay(3, huge_count).cut_bytes > 0);
  CHECK(replay(0, valid).cut_bytes > 0);  // unknown types
  CHECK(replay(200, valid).cut_bytes > 0);
  std::mt19937 rng(99);
  for (int i = 0; i < 300; ++i) {
    bytes payload(rng() % 96);
    for (auto& b : payload) b = static_cast<std::uint8_t>(rng() % 4 == 0 ? 0xFF : rng());
    const auto type = static_cast<std::uint8_t>(1 + rng() % 9);
    const journal_open_report r = replay(type, payload);
    CHECK((r.cut_bytes == 0 || r.cut_bytes == payload.size() + 12));
  }
}

TEST_CASE("journal: a journal with a foreign header is refused and left untouched") {
  temp_dir dir;
  const bytes foreign = bytes_of("this is not a journal at all, keep it");
  write_all(dir.path / "journal.ecj", foreign);
  journal_config config;
  config.dir = dir.path;
  auto j = journal::open(config);
  REQUIRE_FALSE(j.ok());
  CHECK(j.code() == error_code::malformed);
  CHECK(j.err().message.find("journal.ecj") != std::string::npos);
  CHECK(read_all(dir.path / "journal.ecj") == foreign);
}

TEST_CASE("journal: a second journal on the same state directory is refused") {
  temp_dir dir;
  auto first = open_journal(dir.path);
  journal_config config;
  config.dir = dir.path;
  auto second = journal::open(config);
  REQUIRE_FALSE(second.ok());
  CHECK(second.code() == error_code::unavailable);
}

TEST_CASE("journal: commit does one fdatasync for all buffered groups, none when there is nothing to write") {
  temp_dir dir;
  auto j = open_journal(dir.path);
  for (int g = 0; g < 3; ++g) {
    std::vector<journal_record> group;
    for (int i = 0; i < 64; ++i) group.emplace_back(make_task("g" + std::to_string(g) + "-" + std::to_string(i), 1, 1));
    j->append(std::move(group));
  }
  CHECK(j->stats().buffered_records == 192);
  CHECK(j->stats().fdatasyncs == 0);
  REQUIRE(j->commit().ok());
  CHECK(j->stats().fdatasyncs == 1);
  CHECK(j->stats().commits == 1);
  CHECK(j->stats().records_written == 192);
  CHECK(j->stats().buffered_records == 0);
  REQUIRE(j->commit().ok());
  CHECK(j->stats().fdatasyncs == 1);
  CHECK(j->read([](const journal_state& s) { return s.tasks.size(); }) == 192);
}

TEST_CASE("journal: buffered records are not in the state until committed, and are lost if never committed") {
  temp_dir dir;
  {
    auto j = open_journal(dir.path);
    j->append({control_seq{5}});
    CHECK(j->read([](const journal_state& s) { return s.control_seq; }) == 0);
  }
  auto j = open_journal(dir.path);
  CHECK(j->read([](const journal_state& s) { return s.control_seq; }) == 0);
}

// A history where most records are dead: finished expired tasks, released and dead-lettered batches.
std::string write_mostly_dead(journal& j) {
  for (int i = 0; i < 50; ++i) {
    const std::string id = "old" + std::to_string(i);
    REQUIRE(j.write({make_task(id, 1, 1'000, 10, 2'000)}).ok());
    REQUIRE(j.write({make_batch(static_cast<std::uint64_t>(i + 1), {id}, 500), task_finished{id, 1}}).ok());
    REQUIRE(j.write({receipt_applied{id, 1, digest_of("result of " + id), i % 2 == 0, "superseded"}}).ok());
  }
  // Live: an unfinished task, a finished one not yet expired, a pending batch with one of two receipts.
  REQUIRE(j.write({make_task("live-unfinished", 2, 1'000), make_task("live-finished", 1, 900'000'000),
                   make_task("p1", 1, 900'000'000), make_task("p2", 1, 900'000'000)})
              .ok());
  REQUIRE(j.write({make_batch(100, {"p1", "p2"}, 2'000), task_finished{"p1", 1}, task_finished{"p2", 1},
                   task_finished{"live-finished", 1}})
              .ok());
  REQUIRE(j.write({receipt_applied{"p1", 1, digest_of("result of p1"), true, ""}, batch_published{100, 4, 3'000},
                   control_seq{77}, session_seq{5}})
              .ok());
  REQUIRE(j.write({make_batch(101, {"x"}, 2'000), batch_dead_lettered{101, 9'000}}).ok());
  return summary(j);
}

TEST_CASE("journal: compaction keeps exactly the live state and drops finished tasks past expiry and margin") {
  temp_dir dir;
  journal_config config;
  config.forget_margin_ms = 1'000;
  auto j = open_journal(dir.path, config);
  write_mostly_dead(*j);
  const std::uint64_t before_bytes = j->stats().file_bytes;
  const std::uint64_t now = 1'000'000;
  REQUIRE(j->compact(now).ok());
  const std::string compacted = summary(*j);
  CHECK(j->stats().file_bytes < before_bytes / 10);
  CHECK(j->stats().compactions == 1);
  j->read([&](const journal_state& s) {
    CHECK(s.tasks.size() == 4);  // live-unfinished (never dropped), live-finished, p1, p2
    CHECK(s.tasks.contains({"live-unfinished", 2}));
    CHECK_FALSE(s.tasks.contains({"old0", 1}));
    CHECK(s.batches.size() == 1);
    CHECK(s.next_batch_id == 102);
    CHECK(s.forgotten_before_ms == now - 1'000);
    CHECK(s.control_seq == 77);
  });
  // The compacted file replays to the same state, and appends go on after it.
  REQUIRE(j->write({session_seq{6}}).ok());
  const std::string after_append = summary(*j);
  j.reset();
  j = open_journal(dir.path, config);
  CHECK(summary(*j) == after_append);
  CHECK(j->read([](const journal_state& s) { return s.forgotten_before_ms; }) == now - 1'000);
  CHECK(compacted != after_append);
}

TEST_CASE("journal: a crash at any point of a compaction leaves the old or the new live state, never a mix") {
  temp_dir dir;
  const fs::path file = dir.path / "journal.ecj";
  const fs::path temp = dir.path / "journal.ecj.tmp";
  std::string live;
  bytes old_file, new_file;
  {
    auto j = open_journal(dir.path);
    write_mostly_dead(*j);
    old_file = read_all(file);
    REQUIRE(j->compact(5'000).ok());  // nothing expired yet: the compacted state equals the old one
    live = summary(*j);
    new_file = read_all(file);
  }
  REQUIRE(new_file.size() < old_file.size());
  SUBCASE("before the rename, the temp file complete") {
    write_all(file, old_file);
    write_all(temp, new_file);
  }
  SUBCASE("before the rename, the temp file half written") {
    write_all(file, old_file);
    write_all(temp, bytes(new_file.begin(), new_file.begin() + static_cast<std::ptrdiff_t>(new_file.size() / 2)));
  }
  SUBCASE("before the rename, the temp file empty") {
    write_all(file, old_file);
    write_all(temp, {});
  }
  SUBCASE("after the rename") { write_all(file, new_file); }
  auto j = open_journal(dir.path);
  CHECK(summary(*j) == live);
  CHECK(j->open_report().cut_bytes == 0);
  CHECK_FALSE(fs::exists(temp));
}

TEST_CASE("journal: maybe_compact compacts a large, mostly dead file and leaves a live one alone") {
  temp_dir dir;
  journal_config config;
  config.compact_min_bytes = 16 * 1024;
  config.forget_margin_ms = 0;
  auto j = open_journal(dir.path, config);
  auto small = j->maybe_compact(10'000);
  REQUIRE(small.ok());
  CHECK_FALSE(*small);  // below the minimum size
  write_mostly_dead(*j);
  auto dead = j->maybe_compact(10'000);
  REQUIRE(dead.ok());
  CHECK(*dead);
  for (int i = 0; i < 40; ++i) REQUIRE(j->write({make_task("keep" + std::to_string(i), 1, 1'000'000, 1, 1'000)}).ok());
  auto live = j->maybe_compact(10'000);
  REQUIRE(live.ok());
  CHECK_FALSE(*live);  // all unfinished: nothing to gain
  CHECK(j->stats().compactions == 1);
}

}  // namespace
}  // namespace ec::agent
