// A signed custom kernel job end to end: the code key made here (edge-aggregator keygen), the test kernel signed
// with edgectl sign-code, the job submitted against the aggregator's jobs.code_keys, run on lavapipe by agents with
// custom kernels on and validated by quorum, while an agent with custom kernels off (also on lavapipe) never gets it.
#include <cstring>

#include "aggregator_support.hpp"

namespace ec::test::agg {
namespace {

constexpr std::uint64_t n = 256;

// Parses "code_key_id HEX\ncode_signature HEX\n" into TOML lines.
std::string signature_lines(const std::string& printed) {
  std::istringstream in(printed);
  std::string out, name, hex;
  while (in >> name >> hex) out += name + " = \"" + hex + "\"\n";
  return out;
}

std::string scale_job(const std::string& signature) {
  std::string job =
      "name = \"custom-scale\"\nkernel = \"custom\"\nquorum = 2\nmax_runtime_ms = 20000\n\n[custom]\nspirv = "
      "\"scale.spv\"\nentry = \"main\"\nlocal_size = [64]\nglobal_size = [" +
      std::to_string(n) + "]\n" + signature +
      "params = [{ name = \"a\", dtype = \"f32\", value = 3.0 }]\noutputs = [{ name = \"y\", dtype = \"f32\", "
      "shape = [" +
      std::to_string(n) + "] }]\n";
  for (int set = 0; set < 2; ++set) {
    job += "\n[[input_sets]]\ntensors = [{ name = \"x\", dtype = \"f32\", values = [";
    for (std::uint64_t i = 0; i < n; ++i) job += (i ? ", " : "") + std::to_string(i + set * 1000);
    job += "] }]\n";
  }
  return job;
}

void use_lavapipe(agent_process& a, bool custom, const fs::path& code_pub) {
  a.set("devices.disabled_backends", R"(["opencl"])");
  a.set("devices.module_dir", toml_string(EC_MODULE_DIR));
  if (!custom) return;
  a.set("trust.allow_custom_kernels", "true");
  a.set("trust.code_keys", "[" + toml_string(code_pub.string()) + "]");
}

TEST_CASE("a signed custom job runs to validation on agents with custom kernels on, never on one with them off") {
  region r(3);
  for (std::size_t i = 0; i < 3; ++i) r.enroll(i, "owner-" + std::to_string(i));
  const auto code_key = r.folder.path / "code.key";
  const auto keygen = run_program({EC_AGGREGATOR_BINARY, "keygen", "--key", code_key.string()}, r.folder.path);
  REQUIRE_MESSAGE(keygen.rc == 0, keygen.err);
  const auto code_pub = fs::path(code_key.string() + ".pub");
  fs::copy_file(std::string(EC_CUSTOM_KERNEL_SPV_DIR) + "/scale.spv", r.folder.path / "scale.spv");
  const auto signed_code = r.edgectl({"sign-code", "--code-key", code_key.string(), "--spirv",
                                      (r.folder.path / "scale.spv").string(), "--entry", "main"});
  REQUIRE_MESSAGE(signed_code.rc == 0, signed_code.err);
  const auto signature = signature_lines(signed_code.out);
  REQUIRE(signature.find("code_signature = ") != std::string::npos);

  r.aggregator.set("jobs.code_keys", "[" + toml_string(code_pub.string()) + "]");
  r.aggregator.start();  // writes the config edgectl reads the code keys from
  const auto submit = [&](const std::string& text, const std::vector<std::string>& config) {
    const auto path = r.folder.path / ("custom-" + std::to_string(++r.jobs) + ".toml");
    write_file(path, text, 0644);
    auto args = config;
    args.insert(args.end(), {"submit", path.string()});
    return r.edgectl(args);
  };
  const std::vector<std::string> with_keys{"-c", r.aggregator.config_path().string()};

  // Refused at submission, nothing stored: no code keys given, and a signature over other code.
  const auto no_keys = submit(scale_job(signature), {});
  CHECK(no_keys.rc != 0);
  CHECK(no_keys.err.find("custom jobs need the aggregator's code keys") != std::string::npos);
  auto forged = signature;
  const auto at = forged.find("code_signature = \"") + 18;
  forged[at] = forged[at] == '0' ? '1' : '0';
  const auto bad_sig = submit(scale_job(forged), with_keys);
  CHECK(bad_sig.rc != 0);
  CHECK(bad_sig.err.find("code signature does not verify") != std::string::npos);
  CHECK(r.db()->list_jobs()->empty());

  const auto ok = submit(scale_job(signature), with_keys);
  REQUIRE_MESSAGE(ok.rc == 0, ok.err);
  auto job = ok.out;
  while (!job.empty() && job.back() == '\n') job.pop_back();

  use_lavapipe(r.agent(0), true, code_pub);
  use_lavapipe(r.agent(1), true, code_pub);
  use_lavapipe(r.agent(2), false, code_pub);
  for (std::size_t i = 0; i < 3; ++i) r.agent(i).start();
  const bool done = r.wait_validated(job, 240s);
  INFO(r.diagnostics());
  REQUIRE(done);

  auto db = r.db();
  auto units = db->list_work_units(job);
  REQUIRE(units.ok());
  REQUIRE(units->size() == 2);
  for (std::size_t u = 0; u < units->size(); ++u) {
    const auto& unit = (*units)[u];
    auto tasks = db->tasks_for_work_unit(unit.wu_id);
    REQUIRE(tasks.ok());
    for (const auto& t : *tasks) CHECK(t.agent_id != r.agent(2).agent_id());  // custom kernels off: never leased
    auto results = db->results_for_work_unit(unit.wu_id);
    REQUIRE(results.ok());
    bool checked = false;
    for (const auto& s : *results) {
      if (s.result.status != 0 || s.result.output_digest != *unit.canonical_digest) continue;
      auto res = aggregator::decode_stored_result(s.result.blob);
      REQUIRE(res.ok());
      REQUIRE(res->outputs.size() == 1);
      REQUIRE(res->outputs[0].data.size() == n * 4);
      CHECK(res->device.has_value());
      if (res->device) CHECK(res->device->backend == "vulkan");
      const auto index = std::stoul(unit.wu_id.substr(unit.wu_id.rfind('/') + 1));
      for (std::uint64_t i = 0; i < n; ++i) {
        float y = 0;
        std::memcpy(&y, res->outputs[0].data.data() + 4 * i, 4);
        CHECK(y == 3.0f * static_cast<float>(i + index * 1000));
      }
      checked = true;
      break;
    }
    CHECK(checked);
  }
}

}  // namespace
}  // namespace ec::test::agg
