// Custom kernel jobs: the job file's [custom] table and [[input_sets]] (binding order kept), refusals at submission
// (unsigned code, a signature that does not verify, a code key the aggregator does not list, wrong ranks, units over
// the message cap), and expansion into one unit per input set and grid point carrying the signed test kernel.
#include "ec/aggregator/custom_job.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <map>

#include "../../support/custom_kernel_files.hpp"
#include "ec/aggregator/aggregator_config.hpp"
#include "ec/aggregator/task_matching.hpp"
#include "ec/protocol/code_signature.hpp"
#include "ec/protocol/keys.hpp"
#include "ec/protocol/mbedtls_signer.hpp"

namespace ec::aggregator {
namespace {

// Files in memory, by path.
file_reader reader_of(std::map<std::string, protocol::bytes> files) {
  return [files = std::move(files)](const std::string& path) -> result<protocol::bytes> {
    const auto it = files.find(path);
    if (it == files.end()) return fail(error_code::io_error, "cannot open " + path);
    return it->second;
  };
}

// The test kernel `scale` (tests/custom_kernels/): y = a * x with local size 64, as files in memory.
struct code_fixture {
  protocol::mbedtls_signer code_key{protocol::private_key::generate().value()};
  protocol::static_trust_store keys{protocol::mbedtls_verifier_factory()};
  std::map<std::string, protocol::bytes> files;

  code_fixture() {
    files["/jobs/scale.spv"] = test::custom_spirv("scale");
    const auto cl = test::custom_opencl("scale");
    files["/jobs/scale.cl"] = protocol::bytes(cl.begin(), cl.end());
    keys.trust(code_key.key(), {protocol::message_kind::code});
  }

  [[nodiscard]] file_reader reader() const { return reader_of(files); }

  // The two lines `edgectl sign-code` prints, signed over the given code.
  [[nodiscard]] std::string signature_lines(const protocol::bytes& spirv, const std::string& opencl,
                                            const std::string& entry) const {
    const auto sig = protocol::sign_code({spirv, opencl, entry}, code_key);
    REQUIRE(sig.ok());
    return "code_key_id = \"" + protocol::to_hex(code_key.key().id()) + "\"\ncode_signature = \"" +
           protocol::to_hex(*sig) + "\"\n";
  }

  [[nodiscard]] std::string spirv_only_signature() const {
    return signature_lines(files.at("/jobs/scale.spv"), "", "main");
  }
};

std::string values(std::uint64_t n, double scale) {
  std::string s = "[";
  for (std::uint64_t i = 0; i < n; ++i) s += (i ? ", " : "") + std::to_string(static_cast<double>(i) * scale);
  return s + "]";
}

// A SPIR-V-only job of the scale kernel over two input sets of n floats, with the given signature lines.
std::string scale_job(const std::string& signature, std::uint64_t n = 128, const std::string& extra_custom = {}) {
  return "kernel = \"custom\"\nname = \"scale\"\nquorum = 2\n\n[custom]\nspirv = \"scale.spv\"\nentry = \"main\"\n"
         "local_size = [64]\nglobal_size = [" +
         std::to_string(n) + "]\n" + signature + extra_custom +
         "params = [{ name = \"a\", dtype = \"f32\", value = 3.0 }]\n"
         "outputs = [{ name = \"y\", dtype = \"f32\", shape = [" +
         std::to_string(n) +
         "] }]\n\n[[input_sets]]\ntensors = [{ name = \"x\", dtype = \"f32\", values = " + values(n, 1.0) +
         " }]\n\n[[input_sets]]\n[[input_sets.tensors]]\nname = \"x\"\ndtype = \"f32\"\nvalues = " + values(n, 0.5) +
         "\n";
}

job_spec parse_ok(const std::string& text) {
  auto j = parse_job(text, "job.toml", "/jobs");
  REQUIRE_MESSAGE(j.ok(), (j.ok() ? "" : j.err().message));
  return *j;
}

std::string parse_error(const std::string& text) {
  auto j = parse_job(text, "job.toml", "/jobs");
  REQUIRE_FALSE(j.ok());
  return j.err().message;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST_CASE("a custom job file gives the code files, sizes, signature, params, outputs and input sets in order") {
  code_fixture f;
  const auto job = parse_ok(scale_job(f.spirv_only_signature()));
  REQUIRE(job.custom.has_value());
  const auto& c = *job.custom;
  CHECK(job.kernel == "custom");
  CHECK(c.spirv_file == "/jobs/scale.spv");  // relative to the job file's folder
  CHECK(c.opencl_file.empty());
  CHECK(c.entry == "main");
  CHECK(c.local_size == std::vector<std::uint32_t>{64});
  CHECK(c.global_size == std::vector<std::uint64_t>{128});
  CHECK(c.code_key_id.size() == 32);
  CHECK(c.code_signature.size() == 64);
  REQUIRE(c.params.size() == 1);
  CHECK(c.params[0].value.name == "a");
  CHECK(c.params[0].type == protocol::dtype::f32);
  REQUIRE(c.outputs.size() == 1);
  CHECK(c.outputs[0].shape == std::vector<std::uint64_t>{128});
  CHECK(c.validation == protocol::validation_mode::exact);
  REQUIRE(job.input_sets.size() == 2);  // inline tables and [[input_sets.tensors]] read alike
  CHECK(job.input_sets[1][0].name == "x");
  CHECK(job.input_sets[1][0].values[2] == 1.0);

  const auto three_d = parse_ok(
      "kernel = \"custom\"\nrtol = 1e-5\n[custom]\nopencl = \"k.cl\"\nentry = \"k\"\nlocal_size = [4, 4, "
      "2]\nglobal_size = [8, 16, "
      "2]\nvalidation = \"tolerance\"\n" +
      f.spirv_only_signature() + "outputs = [{ name = \"y\", dtype = \"f64\", shape = [256] }]\n");
  CHECK(three_d.custom->global_size == std::vector<std::uint64_t>{8, 16, 2});
  CHECK(three_d.custom->validation == protocol::validation_mode::tolerance);
  CHECK(three_d.rtol == 1e-5);
  CHECK(three_d.input_sets.empty());
}

TEST_CASE("custom job files with unsigned code, wrong ranks or misplaced keys are refused with line and field") {
  code_fixture f;
  const auto sig = f.spirv_only_signature();
  CHECK(contains(parse_error(scale_job("")), "custom.code_key_id: missing: unsigned code is refused"));
  CHECK(contains(parse_error(scale_job("code_key_id = \"" + std::string(64, 'a') + "\"\n")),
                 "custom.code_signature: missing: unsigned code is refused"));
  CHECK(contains(parse_error(scale_job("code_key_id = \"abcd\"\ncode_signature = \"00\"\n")),
                 "custom.code_key_id: must be 64 hex digits, as printed by edgectl sign-code"));
  const auto rank = [&](const std::string& local, const std::string& global) {
    std::string text = scale_job(sig);
    text.replace(text.find("local_size = [64]"), 17, "local_size = " + local);
    text.replace(text.find("global_size = [128]"), 19, "global_size = " + global);
    return parse_error(text);
  };
  CHECK(contains(rank("[64, 1]", "[128]"), "job.toml:"));
  CHECK(contains(rank("[64, 1]", "[128]"), "custom.global_size: has 1 dimensions, local_size has 2"));
  CHECK(contains(rank("[1, 1, 1, 1]", "[1, 1, 1, 1]"), "_size: must have 1 to 3 dimensions, got 4"));
  CHECK(contains(rank("[64]", "[100]"), "dimension 0 (100) is not a multiple of local_size (64)"));
  CHECK(contains(rank("[1]", "[70000]"), "needs more than 65535 workgroups"));
  CHECK(contains(rank("[0]", "[64]"), "custom.local_size: each entry must be an integer >= 1"));

  CHECK(contains(parse_error(scale_job(sig) + "[params]\na = 1.0\n"), "params: custom jobs declare params in "));
  CHECK(contains(parse_error(scale_job(sig) + "[inputs.x]\ndtype = \"f32\"\nvalues = [1]\n"),
                 "inputs: custom jobs list input tensors in [[input_sets]]"));
  CHECK(contains(parse_error(scale_job(sig) + "[grid]\nb = [1.0]\n"), "grid.b: not a param of custom.params"));
  CHECK(contains(parse_error("rtol = 0.1\n" + scale_job(sig)), "rtol: applies only with custom.validation"));
  CHECK(contains(parse_error(scale_job(sig, 128, "validation = \"tolerance\"\n")),
                 "custom.validation: \"tolerance\" needs rtol and/or atol"));
  std::string other_set = scale_job(sig);
  other_set.replace(other_set.rfind("name = \"x\""), 10, "name = \"z\"");
  CHECK(contains(parse_error(other_set), "input_sets[1]: must list the same tensors"));
  std::string u8_param = scale_job(sig);
  u8_param.replace(u8_param.find("dtype = \"f32\", value"), 13, "dtype = \"u8\"");
  CHECK(contains(parse_error(u8_param), "u8 is not a parameter type"));
  std::string no_outputs = scale_job(sig);
  no_outputs.erase(no_outputs.find("outputs = "),
                   no_outputs.find("\n", no_outputs.find("outputs = ")) - no_outputs.find("outputs = ") + 1);
  CHECK(contains(parse_error(no_outputs), "custom.outputs: missing: custom code must declare at least one output"));
  CHECK(contains(parse_error("kernel = \"custom\"\nquorum = 2\n"), "custom: missing: kernel = \"custom\" needs"));
  std::string catalogue = scale_job(sig);
  catalogue.replace(catalogue.find("kernel = \"custom\""), 17, "kernel = \"copy\"");
  CHECK(contains(parse_error(catalogue), "custom: a [custom] table needs kernel = \"custom\""));
  CHECK(contains(parse_error(scale_job(sig, 128, "entry2 = 1\n")), "custom.entry2: unknown key"));
}

TEST_CASE("a signed custom job expands to one unit per input set and grid point, each with the signed code") {
  code_fixture f;
  auto job = parse_ok(scale_job(f.spirv_only_signature()) + "\n[grid]\na = [1.0, 2.0, 4.0]\n");
  auto units = expand_custom_job(job, "job-1", &f.keys, {}, f.reader());
  REQUIRE_MESSAGE(units.ok(), (units.ok() ? "" : units.err().message));
  REQUIRE(units->size() == 6);  // 3 grid points x 2 input sets, sets fastest
  for (std::size_t i = 0; i < units->size(); ++i) {
    const auto& t = (*units)[i].task;
    CHECK((*units)[i].unit_id == "job-1/" + std::to_string(i));
    CHECK(t.kernel == "custom");
    REQUIRE(t.custom.has_value());
    CHECK(t.custom->spirv == f.files.at("/jobs/scale.spv"));
    CHECK(t.custom->opencl_c.empty());
    CHECK(protocol::verify_code({t.custom->spirv, t.custom->opencl_c, t.custom->entry}, t.custom->code_key_id,
                                t.custom->code_signature, f.keys)
              .ok());
    REQUIRE(t.params.size() == 1);
    CHECK(t.params[0].type == protocol::dtype::f32);
    CHECK(t.params[0].f == (i < 2 ? 1.0 : i < 4 ? 2.0 : 4.0));
    REQUIRE(t.inputs.size() == 1);
    CHECK(t.inputs[0].data.size() == 128 * 4);
    float second = 0;
    std::memcpy(&second, t.inputs[0].data.data() + 4, 4);
    CHECK(second == (i % 2 == 0 ? 1.0f : 0.5f));
    REQUIRE(t.outputs.size() == 1);
    CHECK(t.outputs[0].data.empty());
    CHECK(t.validation == protocol::validation_mode::exact);
    CHECK(lease_kernel_name(t) == "custom/spirv");
    CHECK((*units)[i].task_bytes <= protocol::default_max_payload);
  }
}

TEST_CASE("custom jobs are refused without code keys, with another key, or with a signature over other code") {
  code_fixture f;
  const auto job = parse_ok(scale_job(f.spirv_only_signature()));
  const auto refused = [&](const protocol::trust_store* keys, const file_reader& read) {
    auto units = expand_custom_job(job, "job-1", keys, {}, read);
    REQUIRE_FALSE(units.ok());
    return units.err().message;
  };
  CHECK(contains(refused(nullptr, f.reader()), "is not one of the aggregator's jobs.code_keys"));
  CHECK(contains(expand_job(job, "job-1", {}, f.reader()).err().message, "jobs.code_keys"));  // no keys there
  protocol::static_trust_store stranger(protocol::mbedtls_verifier_factory());
  const protocol::mbedtls_signer other{protocol::private_key::generate().value()};
  stranger.trust(other.key(), {protocol::message_kind::code});
  CHECK(contains(refused(&stranger, f.reader()), "is not one of the aggregator's jobs.code_keys"));
  // The same key trusted for envelopes only (an aggregator key) does not sign code.
  protocol::static_trust_store wrong_kind(protocol::mbedtls_verifier_factory());
  wrong_kind.trust_aggregator(f.code_key.key());
  CHECK(contains(refused(&wrong_kind, f.reader()), "jobs.code_keys"));

  auto changed = f.files;  // the file changed after signing: one flipped byte
  changed["/jobs/scale.spv"][40] ^= 1;
  const auto msg = refused(&f.keys, reader_of(changed));
  CHECK(contains(msg, "custom.code_signature: code signature does not verify"));

  auto other_entry = parse_ok(scale_job(f.signature_lines(f.files.at("/jobs/scale.spv"), "", "scale")));
  CHECK_FALSE(expand_custom_job(other_entry, "j", &f.keys, {}, f.reader()).ok());
  auto missing = f.files;
  missing.erase("/jobs/scale.spv");
  CHECK(contains(refused(&f.keys, reader_of(missing)), "custom.spirv: cannot open /jobs/scale.spv"));
}

TEST_CASE("a custom job whose task would not fit the message cap is refused with the sizes") {
  code_fixture f;
  const auto job = parse_ok(scale_job(f.spirv_only_signature(), 16384));
  expansion_limits small;
  small.max_payload = 64 * 1024;  // 16384 floats in and out: 64 KiB each, plus the code
  auto units = expand_custom_job(job, "job-1", &f.keys, small, f.reader());
  REQUIRE_FALSE(units.ok());
  CHECK(units.code() == error_code::too_large);
  CHECK(contains(units.err().message, "work unit 0 (input set 0) cannot fit the message cap of 65536 bytes"));
  CHECK(expand_custom_job(job, "job-1", &f.keys, {}, f.reader()).ok());  // the default 1 MiB cap holds it
}

TEST_CASE("jobs.code_keys is a list of PEM files relative to the config, and the keys load for code only") {
  auto c = parse_aggregator_config("[jobs]\ncode_keys = [\"code.pub\", \"/etc/ec/other.pub\"]\n", "agg.toml", "/srv");
  REQUIRE(c.ok());
  CHECK(c->code_keys == std::vector<std::string>{"/srv/code.pub", "/etc/ec/other.pub"});
  CHECK(parse_aggregator_config("", "agg.toml", "/srv")->code_keys.empty());  // default: custom jobs refused
  CHECK_FALSE(parse_aggregator_config("[jobs]\ncode_keys = \"code.pub\"\n", "agg.toml", "/srv").ok());
  auto missing = load_code_keys({"/nonexistent/code.pub"});
  REQUIRE_FALSE(missing.ok());
  CHECK(contains(missing.err().message, "jobs.code_keys: /nonexistent/code.pub"));
}

}  // namespace
}  // namespace ec::aggregator
