#include "demo_region.hpp"

#include <chrono>
#include <map>
#include <utility>

#include "ec/aggregator/task_template.hpp"

namespace ec::demo {

std::uint64_t wall_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

result<region_db> region_db::open(const std::filesystem::path& path) {
  aggregator::sqlite_options o;
  o.path = path;
  o.create = false;
  auto db = aggregator::sqlite_storage::open(o);
  if (!db) return db.err();
  return region_db(std::move(db).value());
}

result<std::vector<job_progress>> region_db::jobs(std::span<const std::string> job_ids) {
  std::vector<job_progress> out;
  for (const auto& id : job_ids) {
    auto job = db_->find_job(id);
    if (!job) return job.err();
    if (!*job) return fail(error_code::invalid_argument, "no job " + id + " in the region database");
    auto counts = db_->count_work_units(id);
    if (!counts) return counts.err();
    out.push_back({std::move(**job), *counts});
  }
  return out;
}

result<std::vector<aggregator::agent_key_row>> region_db::agents() { return db_->list_agents(); }

result<std::vector<aggregator::agent_stats>> region_db::throughput(std::uint64_t since_ms) {
  return db_->agent_throughput(since_ms);
}

result<std::vector<aggregator::work_unit_row>> region_db::work_units(const std::string& job_id) {
  return db_->list_work_units(job_id);
}

result<std::vector<result_record>> region_db::results(const std::string& job_id) {
  auto units = db_->list_work_units(job_id);
  if (!units) return units.err();
  std::vector<result_record> out;
  for (const auto& u : *units) {
    auto tasks = db_->tasks_for_work_unit(u.wu_id);
    if (!tasks) return tasks.err();
    std::map<std::pair<std::string, std::uint32_t>, std::uint64_t> issued;
    for (const auto& t : *tasks) issued[{t.task_id, t.attempt}] = t.issued_at_ms;
    auto stored = db_->results_for_work_unit(u.wu_id);
    if (!stored) return stored.err();
    for (const auto& s : *stored) {
      result_record r;
      r.wu_id = u.wu_id;
      r.task_id = s.result.task_id;
      r.attempt = s.result.attempt;
      r.agent_id = s.result.agent_id;
      r.status = static_cast<protocol::result_status>(s.result.status);
      r.received_at_ms = s.result.received_at_ms;
      if (const auto it = issued.find({r.task_id, r.attempt}); it != issued.end()) r.issued_at_ms = it->second;
      if (auto decoded = aggregator::decode_stored_result(s.result.blob)) {
        if (decoded->device) {
          r.backend = decoded->device->backend;
          r.device = decoded->device->name;
        }
        if (decoded->timing && decoded->timing->total_us > decoded->timing->queued_us)
          r.agent_run_us = decoded->timing->total_us - decoded->timing->queued_us;
      }
      out.push_back(std::move(r));
    }
  }
  return out;
}

result<std::vector<protocol::tensor>> region_db::canonical_outputs(const aggregator::work_unit_row& unit) {
  if (unit.state != aggregator::work_unit_state::validated || !unit.canonical_digest)
    return fail(error_code::invalid_argument, unit.wu_id + " is not validated");
  auto stored = db_->results_for_work_unit(unit.wu_id);
  if (!stored) return stored.err();
  for (const auto& s : *stored) {
    if (s.result.status != 0 || s.result.output_digest != *unit.canonical_digest) continue;
    auto decoded = aggregator::decode_stored_result(s.result.blob);
    if (!decoded) return decoded.err();
    return std::move(decoded->outputs);
  }
  return fail(error_code::invalid_argument, unit.wu_id + ": no stored result has the canonical digest");
}

}  // namespace ec::demo
