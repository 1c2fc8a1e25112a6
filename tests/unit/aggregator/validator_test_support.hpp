// Pieces shared by the tests of the unit validator and of adaptive replication: a fresh signing key, and jobs
// whose work units carry real Task templates, as `edgectl submit` stores them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ec/aggregator/task_template.hpp"
#include "ec/protocol/mbedtls_signer.hpp"
#include "storage_test_support.hpp"

namespace ec::aggregator::test {

/// A signer over a freshly generated P-256 key.
inline std::unique_ptr<protocol::signer> make_signer() {
  auto key = protocol::private_key::generate();
  REQUIRE(key.ok());
  return std::make_unique<protocol::mbedtls_signer>(std::move(key).value());
}

/// A job of `units` exact-mode saxpy templates with this quorum; `extra_spec` adds TOML lines to the stored job
/// file (what the validation policy reads), e.g. "max_replicas = 6\n".
inline void add_template_job(storage& db, const std::string& job_id, int units, std::uint32_t quorum,
                             const std::string& extra_spec) {
  job_row j;
  j.job_id = job_id;
  j.kernel = "saxpy";
  j.spec = "kernel = \"saxpy\"\nquorum = " + std::to_string(quorum) + "\n" + extra_spec;
  j.quorum = quorum;
  j.created_at_ms = 1000;
  std::vector<work_unit_row> wus;
  for (int i = 0; i < units; ++i) {
    protocol::task t;
    t.task_id = job_id + "/" + std::to_string(i);
    t.job_id = job_id;
    t.agent_id = "template";
    t.kernel = "saxpy";
    t.validation = protocol::validation_mode::exact;
    work_unit_row w;
    w.wu_id = t.task_id;
    w.job_id = job_id;
    w.payload = encode_task_template(t);
    w.replicas_wanted = quorum;
    w.cost = 7;
    wus.push_back(std::move(w));
  }
  must(db.insert_job(j, wus));
}

}  // namespace ec::aggregator::test
