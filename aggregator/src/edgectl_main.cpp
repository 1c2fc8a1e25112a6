// edgectl: the operator's command line over the region's database (architecture.md, "Operator boundary").
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>

#include "ec/aggregator/aggregator_config.hpp"
#include "edgectl/edgectl_commands.hpp"

int main(int argc, char** argv) {
  using namespace ec::aggregator;
  CLI::App app{"edgectl: operate an edgecompute region (works on the region's database)"};
  app.require_subcommand(1);
  std::string db_path, config_path;
  std::vector<std::string> keys;
  app.add_option("--db", db_path, "the region's SQLite database");
  app.add_option("-c,--config", config_path,
                 "an edge-aggregator config: its database, its jobs.code_keys (submit) and key (ledger verify)");
  app.add_option("--key", keys, "aggregator public key PEM whose checkpoints are trusted (repeatable)");

  std::string job_file, job_id, out_dir, principal;
  std::uint32_t key_limit = 1, expires_days = 0;
  auto* submit = app.add_subcommand("submit", "submit a job file (prints the job id)");
  submit->add_option("job", job_file, "job file (docs/jobs.md)")->required();
  auto* status = app.add_subcommand("status", "progress of all jobs or one; per-agent throughput and trust");
  status->add_option("job", job_id, "job id");
  auto* results = app.add_subcommand("results", "write a job's validated results to a folder");
  results->add_option("job", job_id, "job id")->required();
  results->add_option("--out", out_dir, "output folder")->required();
  auto* agents = app.add_subcommand("agents", "enrolled agents: principal, online, trust");
  auto* enroll = app.add_subcommand("enroll", "issue an enrollment token for a principal (printed once)");
  enroll->add_option("--principal", principal, "principal name")->required();
  enroll->add_option("--keys", key_limit, "how many agent keys may enroll with it")->check(CLI::Range(1, 1000000));
  enroll->add_option("--expires-days", expires_days, "days until it expires (0: never)");
  auto* pause = app.add_subcommand("pause-all", "request a signed region-wide pause (Control on P/control)");
  auto* resume = app.add_subcommand("resume-all", "request a signed region-wide resume");
  auto* ledger = app.add_subcommand("ledger", "the tamper-evident ledger");
  ledger->require_subcommand(1);
  auto* verify = ledger->add_subcommand("verify", "recompute the chain and checkpoints; names the first bad entry");
  std::string code_key, spirv_file, opencl_file, entry;
  auto* sign = app.add_subcommand("sign-code", "sign custom kernel code with a code key (offline; prints hex fields)");
  sign->add_option("--code-key", code_key, "the code key's private PEM (mode 0600)")->required();
  sign->add_option("--entry", entry, "the entry point / kernel name")->required();
  sign->add_option("--spirv", spirv_file, "SPIR-V binary");
  sign->add_option("--opencl", opencl_file, "OpenCL C source");
  CLI11_PARSE(app, argc, argv);
  if (*sign) return edgectl::sign_code(code_key, spirv_file, opencl_file, entry);

  edgectl::context ctx;
  ctx.database = db_path;
  ctx.key_files = keys;
  if (!config_path.empty()) {
    auto config = load_aggregator_config(config_path);
    if (!config) {
      std::fprintf(stderr, "edgectl: %s\n", config.err().what().c_str());
      return 1;
    }
    if (ctx.database.empty()) ctx.database = config->database;
    ctx.code_keys = config->code_keys;
    if (ctx.key_files.empty()) {
      const auto pub = config->key_file + ".pub";
      ctx.key_files.push_back(std::filesystem::exists(pub) ? pub : config->key_file);
    }
  }
  if (*submit) {
    ctx.create = true;
    return edgectl::submit(ctx, job_file);
  }
  if (*status) return edgectl::status(ctx, job_id);
  if (*results) return edgectl::results(ctx, job_id, out_dir);
  if (*agents) return edgectl::agents(ctx);
  if (*enroll) {
    ctx.create = true;
    return edgectl::enroll(ctx, principal, key_limit, expires_days);
  }
  if (*pause) return edgectl::region_control(ctx, 1);
  if (*resume) return edgectl::region_control(ctx, 0);
  if (*verify) return edgectl::ledger_verify(ctx);
  return 1;
}
