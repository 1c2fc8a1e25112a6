// edgectl submit, status and results: jobs go in as rows with their expanded work units; status and validated
// results come out of the same database.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "ec/aggregator/custom_job.hpp"
#include "ec/aggregator/job_expansion.hpp"
#include "ec/aggregator/job_spec.hpp"
#include "ec/aggregator/task_matching.hpp"
#include "ec/aggregator/task_template.hpp"
#include "ec/protocol/bytes.hpp"
#include "edgectl/edgectl_commands.hpp"

namespace ec::aggregator::edgectl {
namespace {

namespace fs = std::filesystem;

// Job ids become topic-free task ids ("<job>/<n>#<slot>"): keep them to [a-z0-9-], from the job's name plus
// random hex so that two submissions of one file never collide.
std::string make_job_id(const std::string& name) {
  std::string base;
  for (const char c : name) {
    const char l = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    if ((l >= 'a' && l <= 'z') || (l >= '0' && l <= '9')) {
      base += l;
    } else if (!base.empty() && base.back() != '-') {
      base += '-';
    }
    if (base.size() >= 40) break;
  }
  while (!base.empty() && base.back() == '-') base.pop_back();
  if (base.empty()) base = "job";
  std::ifstream in("/dev/urandom", std::ios::binary);
  std::uint8_t raw[4] = {};
  in.read(reinterpret_cast<char*>(raw), sizeof raw);
  return base + "-" + protocol::to_hex(raw);
}

std::string bar(double fraction, int width) {
  const int full = static_cast<int>(std::lround(std::clamp(fraction, 0.0, 1.0) * width));
  return "[" + std::string(static_cast<std::size_t>(full), '#') +
         std::string(static_cast<std::size_t>(width - full), '.') + "]";
}

void print_counts(const std::string& label, const work_unit_counts& c, bool tty) {
  const auto total = c.pending + c.running + c.validated + c.failed;
  const double done = total == 0 ? 1.0 : static_cast<double>(c.validated + c.failed) / static_cast<double>(total);
  std::printf("%s", label.c_str());
  if (tty) std::printf(" %s %3.0f%%", bar(done, 30).c_str(), done * 100);
  std::printf("  pending %llu  running %llu  validated %llu  failed %llu  (of %llu)\n",
              static_cast<unsigned long long>(c.pending), static_cast<unsigned long long>(c.running),
              static_cast<unsigned long long>(c.validated), static_cast<unsigned long long>(c.failed),
              static_cast<unsigned long long>(total));
}

// Custom jobs are checked against the config's code keys; without them (no -c, or an empty jobs.code_keys) they are
// refused.
result<std::vector<work_unit>> expand(const job_spec& spec, const std::string& job_id, const context& ctx) {
  if (!spec.custom) return expand_job(spec, job_id);
  if (ctx.code_keys.empty())
    return fail(error_code::untrusted_key,
                "custom jobs need the aggregator's code keys: pass -c CONFIG whose jobs.code_keys lists the code "
                "key that signed this code");
  auto keys = load_code_keys(ctx.code_keys);
  if (!keys) return keys.err();
  return expand_custom_job(spec, job_id, keys->get());
}

}  // namespace

int submit(const context& ctx, const std::string& job_file) {
  std::ifstream in(job_file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "edgectl: cannot read %s\n", job_file.c_str());
    return 1;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  const auto dir = fs::absolute(job_file).parent_path().string();
  auto spec = parse_job(text, job_file, dir);
  if (!spec) {
    std::fprintf(stderr, "edgectl: %s\n", spec.err().message.c_str());
    return 1;
  }
  const auto job_id = make_job_id(spec->name.empty() ? spec->kernel : spec->name);
  auto units = expand(*spec, job_id, ctx);
  if (!units) {
    std::fprintf(stderr, "edgectl: %s: %s\n", job_file.c_str(), units.err().message.c_str());
    return 1;
  }
  auto db = open_database(ctx);
  if (!db) return 1;
  const auto now = wall_ms();
  job_row job;
  job.job_id = job_id;
  job.kernel = units->empty() ? spec->kernel : lease_kernel_name(units->front().task);
  job.spec = text;
  job.quorum = std::max<std::uint32_t>(1, spec->quorum);
  job.deadline_ms = spec->deadline_s == 0 ? 0 : now + spec->deadline_s * 1000;
  job.state = job_state::active;
  job.created_at_ms = now;
  std::vector<work_unit_row> rows;
  rows.reserve(units->size());
  for (const auto& u : *units) rows.push_back(make_work_unit_row(u, job_id, job.quorum));
  if (auto r = db->insert_job(job, rows); !r) {
    std::fprintf(stderr, "edgectl: cannot store job: %s\n", r.err().what().c_str());
    return 1;
  }
  std::fprintf(stderr, "submitted %zu work units of kernel %s, quorum %u\n", rows.size(), job.kernel.c_str(),
               job.quorum);
  std::printf("%s\n", job_id.c_str());
  return 0;
}

int status(const context& ctx, const std::string& job_id) {
  auto db = open_database(ctx);
  if (!db) return 1;
  const bool tty = ::isatty(STDOUT_FILENO) == 1;
  auto jobs = db->list_jobs();
  if (!jobs) {
    std::fprintf(stderr, "edgectl: %s\n", jobs.err().what().c_str());
    return 1;
  }
  bool found = job_id.empty();
  for (const auto& j : *jobs) {
    if (!job_id.empty() && j.job_id != job_id) continue;
    found = true;
    auto c = db->count_work_units(j.job_id);
    if (!c) {
      std::fprintf(stderr, "edgectl: %s\n", c.err().what().c_str());
      return 1;
    }
    print_counts("job " + j.job_id + " (" + j.kernel + ", quorum " + std::to_string(j.quorum) + ", " +
                     std::string(to_string(j.state)) + ")",
                 *c, tty);
  }
  if (!found) {
    std::fprintf(stderr, "edgectl: no job %s\n", job_id.c_str());
    return 1;
  }
  const auto window_ms = std::uint64_t{10} * 60 * 1000;
  const auto now = wall_ms();
  auto stats = db->agent_throughput(now > window_ms ? now - window_ms : 0);
  if (!stats) {
    std::fprintf(stderr, "edgectl: %s\n", stats.err().what().c_str());
    return 1;
  }
  if (!stats->empty()) std::printf("agents (results in the last 10 minutes):\n");
  for (const auto& a : *stats) {
    std::printf("  %s  principal %-24s %s  %6.2f results/min (%llu ok)  trust %s streak %u\n", a.agent_id.c_str(),
                a.principal.c_str(), a.online ? "online " : "offline", static_cast<double>(a.results_since) / 10.0,
                static_cast<unsigned long long>(a.ok_results_since), a.trusted ? "trusted" : "untrusted",
                a.trust_streak);
  }
  return 0;
}

int results(const context& ctx, const std::string& job_id, const std::string& out_dir) {
  auto db = open_database(ctx);
  if (!db) return 1;
  auto units = db->list_work_units(job_id);
  if (!units) {
    std::fprintf(stderr, "edgectl: %s\n", units.err().what().c_str());
    return 1;
  }
  if (units->empty()) {
    std::fprintf(stderr, "edgectl: no job %s (or it has no work units)\n", job_id.c_str());
    return 1;
  }
  std::error_code fs_error;
  fs::create_directories(out_dir, fs_error);
  if (fs_error) {
    std::fprintf(stderr, "edgectl: cannot create %s: %s\n", out_dir.c_str(), fs_error.message().c_str());
    return 1;
  }
  std::ofstream manifest(fs::path(out_dir) / "manifest.tsv", std::ios::trunc);
  manifest << "# wu_id\tindex\toutput\tdtype\tshape\tfile\n";
  std::size_t written = 0, missing = 0;
  for (std::size_t i = 0; i < units->size(); ++i) {
    const auto& u = (*units)[i];
    if (u.state != work_unit_state::validated || !u.canonical_digest) {
      ++missing;
      continue;
    }
    auto stored = db->results_for_work_unit(u.wu_id);
    if (!stored) {
      std::fprintf(stderr, "edgectl: %s\n", stored.err().what().c_str());
      return 1;
    }
    // The canonical result is the stored Ok result whose output digest the ledger recorded.
    const result_row* canon = nullptr;
    for (const auto& s : *stored)
      if (s.result.status == 0 && s.result.output_digest == *u.canonical_digest) canon = &s.result;
    if (!canon) {
      std::fprintf(stderr, "edgectl: %s: no stored result has the canonical digest\n", u.wu_id.c_str());
      return 1;
    }
    auto decoded = decode_stored_result(canon->blob);
    if (!decoded) {
      std::fprintf(stderr, "edgectl: %s: %s\n", u.wu_id.c_str(), decoded.err().what().c_str());
      return 1;
    }
    for (const auto& t : decoded->outputs) {
      std::string safe;
      for (const char c : t.name) safe += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      const auto file = std::to_string(i) + "." + safe + ".bin";
      std::ofstream out(fs::path(out_dir) / file, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(t.data.data()), static_cast<std::streamsize>(t.data.size()));
      if (!out) {
        std::fprintf(stderr, "edgectl: cannot write %s\n", file.c_str());
        return 1;
      }
      std::string shape;
      for (const auto d : t.shape) shape += (shape.empty() ? "" : "x") + std::to_string(d);
      manifest << u.wu_id << '\t' << i << '\t' << t.name << '\t' << protocol::to_string(t.type) << '\t' << shape << '\t'
               << file << '\n';
    }
    ++written;
  }
  std::printf("%zu validated work units written to %s (%zu not validated)\n", written, out_dir.c_str(), missing);
  return missing == 0 ? 0 : 2;
}

}  // namespace ec::aggregator::edgectl
