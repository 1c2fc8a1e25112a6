// The result spool: bounded, durable before publishing, released only by matching receipts, never dropping.
#include "ec/agent/result_spool.hpp"

#include <chrono>
#include <cstdio>

#include "durability_support.hpp"
#include "ec/agent/config.hpp"

namespace ec::agent {
namespace {

using namespace ec::agent::test;

std::unique_ptr<result_spool> open_spool(journal& j, result_spool_config config = {}) {
  auto s = result_spool::open(j, std::move(config));
  REQUIRE_MESSAGE(s.ok(), (s.ok() ? std::string() : s.err().what()));
  return std::move(s).value();
}

result_entry entry(const std::string& task, std::uint32_t attempt = 1) {
  return {task, attempt, digest_of("result of " + task)};
}

receipt_entry receipt(const std::string& task, bool accepted = true, const std::string& reason = "") {
  return {task, 1, digest_of("result of " + task), accepted, reason};
}

TEST_CASE("result spool: reserve fails when full, spooling keeps the result, release frees the room") {
  temp_dir dir;
  auto j = open_journal(dir.path);
  result_spool_config config;
  config.capacity_bytes = 1'000;
  auto spool = open_spool(*j, config);
  REQUIRE(spool->reserve({make_task("a", 1, 9'000, 600)}).ok());
  auto full = spool->reserve({make_task("b", 1, 9'000, 300), make_task("c", 1, 9'000, 200)});
  REQUIRE_FALSE(full.ok());
  CHECK(full.code() == error_code::unavailable);
  CHECK(full.err().message.find("result spool full") != std::string::npos);
  CHECK(spool->stats().reserved_bytes == 600);  // all or none: b was not admitted either
  CHECK(spool->unfinished().size() == 1);
  CHECK_FALSE(spool->can_reserve(401));
  CHECK(spool->can_reserve(400));

  // The result is smaller than the reservation: the difference comes back at once.
  const bytes envelope(150, 0xAB);
  auto id = spool->spool(envelope, {entry("a")}, 1'000);
  REQUIRE(id.ok());
  CHECK(spool->stats().reserved_bytes == 0);
  CHECK(spool->stats().spooled_bytes == 150);
  CHECK_FALSE(spool->reserve({make_task("d", 1, 9'000, 900)}).ok());

  const receipt_entry r = receipt("a");
  auto rel = spool->release({&r, 1});
  REQUIRE(rel.ok());
  CHECK(rel->released == std::vector<std::uint64_t>{*id});
  CHECK(spool->stats().spooled_bytes == 0);
  CHECK(spool->reserve({make_task("d", 1, 9'000, 900)}).ok());
}

TEST_CASE("result spool: a batch is released only when every result got a receipt with its digest") {
  temp_dir dir;
  std::uint64_t id = 0;
  {
    auto j = open_journal(dir.path);
    auto spool = open_spool(*j);
    auto spooled = spool->spool(bytes_of("batch"), {entry("x"), entry("y")}, 1'000);
    REQUIRE(spooled.ok());
    id = *spooled;

    receipt_entry wrong = receipt("x");
    wrong.result_digest = digest_of("some other result");
    const receipt_entry stranger = receipt("nobody");
    const std::vector<receipt_entry> first{wrong, stranger, receipt("y")};
    auto rel = spool->release(first);
    REQUIRE(rel.ok());
    CHECK(rel->applied == 1);
    CHECK(rel->mismatched == 1);
    CHECK(rel->unknown == 1);
    CHECK(rel->released.empty());
    CHECK(spool->stats().pending_batches == 1);
    CHECK(spool->stats().mismatched_receipts == 1);
  }
  // The receipt for y is durable: after a restart only x is missing.
  auto j = open_journal(dir.path);
  auto spool = open_spool(*j);
  CHECK(spool->stats().pending_batches == 1);
  const receipt_entry refused = receipt("x", false, "superseded");  // judged and refused still releases
  auto rel = spool->release({&refused, 1});
  REQUIRE(rel.ok());
  CHECK(rel->released == std::vector<std::uint64_t>{id});
  CHECK(spool->stats().pending_batches == 0);
  auto again = spool->release({&refused, 1});  // a duplicate receipt is harmless
  REQUIRE(again.ok());
  CHECK(again->unknown == 1);
}

TEST_CASE("result spool: republish after 30 s, then doubling up to 5 min") {
  temp_dir dir;
  auto j = open_journal(dir.path);
  auto spool = open_spool(*j);
  const std::uint64_t t0 = 1'700'000'000'000;
  auto id = spool->spool(bytes_of("the signed bytes"), {entry("a")}, t0);
  REQUIRE(id.ok());
  std::uint64_t now = t0;
  const std::uint64_t expected_gaps_s[] = {30, 60, 120, 240, 300, 300, 300};
  std::uint32_t count = 1;
  for (const std::uint64_t gap : expected_gaps_s) {
    CAPTURE(gap);
    CHECK(spool->due(now + gap * 1000 - 1).empty());
    now += gap * 1000;
    const auto due = spool->due(now);
    REQUIRE(due.size() == 1);
    CHECK(due[0].batch_id == *id);
    CHECK(due[0].envelope == bytes_of("the signed bytes"));
    CHECK(due[0].publish_count == ++count);
    CHECK(spool->due(now).empty());
  }
  CHECK(spool->stats().republished == 7);
  CHECK(j->stats().fdatasyncs == 1);  // timers are journaled lazily: only the spool itself synced
}

TEST_CASE("result spool: retry timers survive a restart once committed") {
  temp_dir dir;
  const std::uint64_t t0 = 1'000'000;
  {
    auto j = open_journal(dir.path);
    auto spool = open_spool(*j);
    REQUIRE(spool->spool(bytes_of("b"), {entry("a")}, t0).ok());
    REQUIRE(spool->due(t0 + 30'000).size() == 1);
    REQUIRE(spool->due(t0 + 90'000).size() == 1);
    REQUIRE(j->commit().ok());  // any later commit carries the timers; here an explicit one
  }
  auto j = open_journal(dir.path);
  auto spool = open_spool(*j);
  CHECK(spool->due(t0 + 90'000 + 119'999).empty());
  CHECK(spool->due(t0 + 90'000 + 120'000).size() == 1);
}

TEST_CASE("result spool: custom retry timers from the configuration") {
  temp_dir dir;
  auto j = open_journal(dir.path);
  result_spool_config config;
  config.first_retry_ms = 1'000;
  config.max_retry_ms = 3'000;
  auto spool = open_spool(*j, config);
  REQUIRE(spool->spool(bytes_of("b"), {entry("a")}, 0).ok());
  CHECK(spool->due(1'000).size() == 1);
  CHECK(spool->due(2'999).empty());
  CHECK(spool->due(3'000).size() == 1);
  CHECK(spool->due(5'999).empty());
  CHECK(spool->due(6'000).size() == 1);
  CHECK(spool->due(9'000).size() == 1);
}

TEST_CASE("result spool: a reconnect republishes everything at once and the timers go on from then") {
  temp_dir dir;
  auto j = open_journal(dir.path);
  result_spool_config config;
  config.first_retry_ms = 1'000;
  config.max_retry_ms = 4'000;
  auto spool = open_spool(*j, config);
  REQUIRE(spool->spool(bytes_of("a"), {entry("a")}, 0).ok());
  REQUIRE(spool->spool(bytes_of("b"), {entry("b")}, 500).ok());
  CHECK(spool->due(600).empty());
  CHECK(spool->due(600, true).size() == 2);  // on reconnect: every pending batch, due or not
  // The timers restart from the reconnect, not from some far-future stamp: the next rounds still come.
  CHECK(spool->due(1'599).empty());
  CHECK(spool->due(2'600).size() == 2);  // 600 + 2 s (the third publish of each)
  CHECK(spool->due(6'600).size() == 2);
}

TEST_CASE("result spool: past the TTL a batch moves to its own dead-letter file, bytes exact, and is reported") {
  temp_dir dir;
  const bytes envelope = bytes_of("signed batch that nobody receipted");
  const std::uint64_t day = 24ull * 3600 * 1000;
  {
    auto j = open_journal(dir.path);
    auto spool = open_spool(*j);
    REQUIRE(spool->spool(envelope, {entry("a"), entry("b")}, 1'000).ok());
    REQUIRE(spool->spool(bytes_of("younger"), {entry("c")}, 1'000 + day).ok());
    auto early = spool->dead_letter(1'000 + 7 * day - 1);
    REQUIRE(early.ok());
    CHECK(early->empty());
    auto moved = spool->dead_letter(1'000 + 7 * day);
    REQUIRE(moved.ok());
    REQUIRE(moved->size() == 1);
    const dead_lettered_batch& d = moved->front();
    CHECK(d.entries.size() == 2);
    CHECK(d.file.parent_path() == dir.path / "dead-letter");
    CHECK(read_all(d.file) == envelope);
    CHECK(spool->stats().dead_letters == 1);
    CHECK(spool->stats().pending_batches == 1);
  }
  auto j = open_journal(dir.path);
  auto spool = open_spool(*j);
  CHECK(spool->stats().dead_letters == 1);  // counted from the folder
  CHECK(spool->stats().pending_batches == 1);
  CHECK(spool->due(1'000 + 7 * day).size() == 1);  // the younger one is still republished
}

TEST_CASE("result spool: after a restart, admitted tasks without a result come back with their blobs") {
  temp_dir dir;
  {
    auto j = open_journal(dir.path);
    auto spool = open_spool(*j);
    REQUIRE(spool
                ->reserve({make_task("done", 1, 9'000, 10), make_task("run-again", 1, 9'000, 20, 500),
                           make_task("cancel", 4, 9'000, 30)})
                .ok());
    REQUIRE(spool->spool(bytes_of("r"), {entry("done")}, 1'000).ok());
  }
  auto j = open_journal(dir.path);
  auto spool = open_spool(*j);
  const auto unfinished = spool->unfinished();
  REQUIRE(unfinished.size() == 2);
  CHECK(unfinished[0].task_id == "cancel");
  CHECK(unfinished[0].attempt == 4);
  CHECK(unfinished[1].task_id == "run-again");
  CHECK(unfinished[1].task_blob == make_task("run-again", 1, 9'000, 20, 500).task_blob);
  CHECK(spool->stats().reserved_bytes == 50);
  CHECK(spool->stats().unfinished_tasks == 2);
}

TEST_CASE("result spool: a batch and its task_finished records are one group, all or nothing after a cut") {
  temp_dir dir;
  std::uint64_t before = 0, after = 0;
  {
    auto j = open_journal(dir.path);
    auto spool = open_spool(*j);
    REQUIRE(spool->reserve({make_task("a", 1, 9'000), make_task("b", 1, 9'000)}).ok());
    before = j->stats().file_bytes;
    REQUIRE(spool->spool(bytes_of("env"), {entry("a"), entry("b")}, 1'000).ok());
    after = j->stats().file_bytes;
  }
  const bytes file = read_all(dir.path / "journal.ecj");
  for (std::uint64_t cut = before + 1; cut < after; cut += 7) {
    CAPTURE(cut);
    write_all(dir.path / "journal.ecj", bytes(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(cut)));
    auto j = open_journal(dir.path);
    auto spool = open_spool(*j);
    CHECK(spool->stats().pending_batches == 0);
    CHECK(spool->unfinished().size() == 2);  // neither finished: both rerun, no result lost
  }
}

TEST_CASE("result spool: settings come from the spool section of the configuration") {
  spool_config section;
  section.max_bytes = 1'000;
  section.ttl_s = 60;
  section.republish_initial_s = 2;
  section.republish_max_s = 9;
  const result_spool_config c = result_spool_config::from(section);
  CHECK(c.capacity_bytes == 1'000);
  CHECK(c.ttl_ms == 60'000);
  CHECK(c.first_retry_ms == 2'000);
  CHECK(c.max_retry_ms == 9'000);
  const result_spool_config defaults = result_spool_config::from(spool_config{});
  CHECK(defaults.capacity_bytes == result_spool_config{}.capacity_bytes);
  CHECK(defaults.ttl_ms == result_spool_config{}.ttl_ms);
  CHECK(defaults.first_retry_ms == result_spool_config{}.first_retry_ms);
  CHECK(defaults.max_retry_ms == result_spool_config{}.max_retry_ms);
}

TEST_CASE("result spool: an empty batch is refused") {
  temp_dir dir;
  auto j = open_journal(dir.path);
  auto spool = open_spool(*j);
  auto id = spool->spool(bytes_of("x"), {}, 0);
  REQUIRE_FALSE(id.ok());
  CHECK(id.code() == error_code::invalid_argument);
}

// Not a test: the figures for docs/performance.md. Run with -tc='*benchmark*' --no-skip.
TEST_CASE("result spool benchmark: 64-result batches" * doctest::skip()) {
  temp_dir dir;
  auto j = open_journal(dir.path);
  result_spool_config config;
  config.capacity_bytes = 1ull << 40;
  auto spool = open_spool(*j, config);
  constexpr int batches = 200;
  constexpr int per_batch = 64;
  const auto start = std::chrono::steady_clock::now();
  for (int b = 0; b < batches; ++b) {
    std::vector<task_admitted> tasks;
    std::vector<result_entry> entries;
    for (int i = 0; i < per_batch; ++i) {
      const std::string id = "task-" + std::to_string(b) + "-" + std::to_string(i);
      tasks.push_back(make_task(id, 1, 1'000'000, 1'024, 512));
      entries.push_back(entry(id));
    }
    REQUIRE(spool->reserve(std::move(tasks)).ok());
    REQUIRE(spool->spool(bytes(per_batch * 600, 0x5C), std::move(entries), 1'000).ok());
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const journal_stats st = j->stats();
  std::printf(
      "journal benchmark: %d batches x %d results (admit commit + spool commit each): %.0f records/s, "
      "%.1f ms per batch, %.2f fdatasyncs per committed batch, %llu bytes\n",
      batches, per_batch, static_cast<double>(st.records_written) / s, 1'000 * s / batches,
      static_cast<double>(st.fdatasyncs) / (2.0 * batches), static_cast<unsigned long long>(st.file_bytes));

  // For contrast, what one sync per record would cost: the same 64 results each committed alone.
  const auto alone = std::chrono::steady_clock::now();
  for (int i = 0; i < per_batch; ++i) REQUIRE(j->write({task_finished{"x" + std::to_string(i), 1}}).ok());
  const double a = std::chrono::duration<double>(std::chrono::steady_clock::now() - alone).count();
  std::printf("journal benchmark: one commit per record: %.0f records/s (%.2f ms per fdatasync)\n", per_batch / a,
              1'000 * a / per_batch);

  // Replay after a restart: the whole uncompacted file read, checked and applied.
  spool.reset();
  j.reset();
  const auto reopen = std::chrono::steady_clock::now();
  j = open_journal(dir.path);
  const double r = std::chrono::duration<double>(std::chrono::steady_clock::now() - reopen).count();
  std::printf("journal benchmark: replay of %llu records (%.1f MiB) in %.1f ms\n",
              static_cast<unsigned long long>(j->open_report().records),
              static_cast<double>(j->stats().file_bytes) / (1 << 20), 1'000 * r);
}

}  // namespace
}  // namespace ec::agent
