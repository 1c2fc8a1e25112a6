// Job files and their expansion: TOML errors name line and field, tiles cover the image and the matrix exactly,
// every unit fits the message cap, and a unit that cannot fit is refused with a clear error.
#include "ec/aggregator/job_expansion.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "ec/aggregator/job_spec.hpp"
#include "ec/kernels/catalog.hpp"

namespace ec::aggregator {
namespace {

std::string repo_root() {
  std::string f = __FILE__;  // .../tests/unit/aggregator/job_expansion_test.cpp
  for (int i = 0; i < 4; ++i) f = f.substr(0, f.rfind('/'));
  return f;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

job_spec parse_ok(std::string_view text) {
  auto j = parse_job(text);
  REQUIRE_MESSAGE(j.ok(), (j.ok() ? "" : j.err().message));
  return *j;
}

std::string parse_error(std::string_view text, std::string_view source = {}) {
  auto j = parse_job(text, source);
  REQUIRE_FALSE(j.ok());
  return j.err().message;
}

std::vector<work_unit> expand_ok(const job_spec& job, const expansion_limits& limits = {}) {
  auto u = expand_job(job, "job1", limits);
  REQUIRE_MESSAGE(u.ok(), (u.ok() ? "" : u.err().message));
  return std::move(*u);
}

std::int64_t param(const protocol::task& t, std::string_view name) {
  for (const auto& p : t.params)
    if (p.name == name) return p.i;
  FAIL("no param " << name);
  return 0;
}

std::vector<protocol::tensor> run(const protocol::task& t) {
  const auto* spec = kernels::find_kernel(t.kernel);
  std::vector<protocol::tensor_ref> refs;
  for (const auto& in : t.inputs) refs.push_back(in.ref());
  auto call = spec->bind(t.params, refs);
  REQUIRE(call.ok());
  return kernels::run_reference(*call);
}

// A Task issued to a 32-character agent id, sealed size excluded: the template's estimate must cover it.
void check_fits(const work_unit& u, const expansion_limits& limits) {
  CHECK(u.task_bytes <= limits.max_payload);
  CHECK(u.result_bytes <= limits.max_payload);
  const auto issued = issue_task(u, 7, 3, std::string(32, 'a'), 1, 2);
  CHECK(protocol::build(issued).size() + 512 <= u.task_bytes);
}

TEST_CASE("the example job files parse and expand") {
  for (const char* name : {"mandelbrot", "sgemm", "saxpy"}) {
    const auto path = repo_root() + "/examples/jobs/" + name + ".toml";
    auto job = parse_job(read_text(path), path);
    REQUIRE_MESSAGE(job.ok(), (job.ok() ? "" : job.err().message));
    CHECK(job->kernel == name);
    auto units = expand_job(*job, "j");
    REQUIRE_MESSAGE(units.ok(), (units.ok() ? "" : units.err().message));
    CHECK(!units->empty());
    for (const auto& u : *units) check_fits(u, {});
  }
}

TEST_CASE("job file errors name the line and the field") {
  CHECK(parse_error("kernel = \"mandelbrot\"\nquorum = \"two\"\n") == "line 2: quorum: must be an integer");
  CHECK(parse_error("kernel = \"saxpy\"\n\nqourum = 2\n", "jobs/x.toml") == "jobs/x.toml:3: qourum: unknown key");
  CHECK(parse_error("kernel = \"nope\"\n").find("line 1: kernel: unknown kernel 'nope' (known: ") == 0);
  CHECK(parse_error("quorum = 2\n") == "line 1: kernel: missing (the catalogue kernel to run)");
  CHECK(parse_error("kernel = \"saxpy\"\n[params]\nb = 1.0\n") == "line 3: params.b: kernel 'saxpy' has no param 'b'");
  CHECK(parse_error("kernel = \"saxpy\"\nquorum = 0\n") == "line 2: quorum: must be in [1, 64], got 0");
  CHECK(parse_error("kernel = \"mandelbrot\"\n[image]\nwidth = 10\nheight = 10\nx_min = 9\n") ==
        "line 5: image.x_min: must be in [-4, 4] (Q3.28 fixed point)");
  CHECK(parse_error("kernel = \"saxpy\"\n[inputs.x]\ndtype = \"f16\"\nvalues = [1]\n") ==
        "line 3: inputs.x.dtype: unknown dtype 'f16' (u8, u32, i32, u64, f32, f64)");
  CHECK(parse_error("kernel = \"saxpy\"\n[inputs.x]\ndtype = \"f32\"\nshape = [3]\nvalues = [1, 2]\n") ==
        "line 2: inputs.x.values: has 2 values, shape needs 3");
  CHECK(parse_error("kernel = \"mandelbrot\"\nrtol = 0.1\n[image]\nwidth = 1\nheight = 1\n") ==
        "line 2: rtol: kernel 'mandelbrot' is validated exactly; a tolerance does not apply");
  CHECK(parse_error("kernel = \"saxpy\"\nquorum = 3\nmax_replicas = 2\n") ==
        "line 3: max_replicas: must be at least quorum (3)");
  CHECK(parse_error("kernel = \"sgemm\"\n[inputs]\ngenerate = { dims = [4, 4], seed = 1 }\n") ==
        "line 2: inputs.generate.dims: kernel 'sgemm' takes 3 dims {M, N, K}");
  // A TOML syntax error carries line and column.
  CHECK(parse_error("kernel = \"saxpy\"\nquorum = = 2\n").find("line 2:") == 0);
}

TEST_CASE("defaults: quorum 2, split by rows for element-wise kernels, tiles for sgemm, image for mandelbrot") {
  auto j = parse_ok(
      "kernel = \"saxpy\"\n[inputs.x]\ndtype = \"f32\"\nvalues = [1]\n[inputs.y]\ndtype = \"f32\"\nvalues = [2]\n");
  CHECK(j.quorum == 2);
  CHECK(j.split.kind == split_kind::rows);
  CHECK(parse_ok("kernel = \"sgemm\"\n").split.kind == split_kind::tiles);
  CHECK(parse_ok("kernel = \"mandelbrot\"\n[image]\nwidth = 4\nheight = 4\n").split.kind == split_kind::image);
  CHECK(parse_ok("kernel = \"histogram\"\n").split.kind == split_kind::none);
  CHECK(parse_ok("kernel = \"copy\"\npriority = -5\n").priority == -5);
}

TEST_CASE("mandelbrot tiles cover the image exactly and reproduce the whole render pixel for pixel") {
  auto job = parse_ok(
      "kernel = \"mandelbrot\"\n[image]\nwidth = 50\nheight = 37\nx_min = -2.0\nx_max = 0.5\ny_min = -1.0\n"
      "y_max = 1.0\nmax_iter = 64\ntile_width = 16\ntile_height = 10\n");
  const auto units = expand_ok(job);
  CHECK(units.size() == 4 * 4);  // ceil(50/16) x ceil(37/10)
  auto whole_job = job;
  whole_job.image->tile_width = 50;
  whole_job.image->tile_height = 37;
  const auto whole = expand_ok(whole_job);
  REQUIRE(whole.size() == 1);
  const auto image = run(whole[0].task)[0];
  std::vector<int> covered(50 * 37, 0);
  const auto x0 = param(whole[0].task, "x0"), y0 = param(whole[0].task, "y0"), dx = param(whole[0].task, "dx"),
             dy = param(whole[0].task, "dy");
  for (const auto& u : units) {
    CHECK(u.task.validation == protocol::validation_mode::exact);
    CHECK(u.task.outputs.size() == 1);
    CHECK(u.task.outputs[0].data.empty());
    const auto tx = (param(u.task, "x0") - x0) / dx, ty = (param(u.task, "y0") - y0) / dy;
    CHECK((param(u.task, "x0") - x0) % dx == 0);
    CHECK(param(u.task, "dx") == dx);
    const auto w = param(u.task, "width"), h = param(u.task, "height");
    const auto tile = run(u.task)[0];
    for (std::int64_t y = 0; y < h; ++y)
      for (std::int64_t x = 0; x < w; ++x) {
        const auto at = (ty + y) * 50 + tx + x;
        ++covered[static_cast<std::size_t>(at)];
        CHECK(std::memcmp(&tile.data[static_cast<std::size_t>(y * w + x) * 4],
                          &image.data[static_cast<std::size_t>(at) * 4], 4) == 0);
      }
  }
  CHECK(std::count(covered.begin(), covered.end(), 1) == 50 * 37);
}

TEST_CASE("mandelbrot tile geometry comes from [image], params may not set it") {
  auto job = parse_ok("kernel = \"mandelbrot\"\n[params]\nwidth = 3\n[image]\nwidth = 8\nheight = 8\n");
  auto r = expand_job(job, "j");
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().message == "params.width: set by the [image] table for each tile");
  auto sweep = parse_ok("kernel = \"mandelbrot\"\n[grid]\nmax_iter = [16, 32]\n[image]\nwidth = 8\nheight = 8\n");
  const auto units = expand_ok(sweep);
  REQUIRE(units.size() == 2);
  CHECK(param(units[0].task, "max_iter") == 16);
  CHECK(param(units[1].task, "max_iter") == 32);
}

TEST_CASE("mandelbrot tiles chosen automatically fit the message cap") {
  auto job = parse_ok("kernel = \"mandelbrot\"\n[image]\nwidth = 1000\nheight = 700\n");
  expansion_limits limits;
  limits.max_payload = 64 * 1024;
  const auto units = expand_ok(job, limits);
  std::uint64_t pixels = 0;
  for (const auto& u : units) {
    check_fits(u, limits);
    pixels += static_cast<std::uint64_t>(param(u.task, "width") * param(u.task, "height"));
  }
  CHECK(pixels == 700000);
  CHECK(units.size() < 80);  // tiles are large, not slivers: 2.8 MB of counts in 64 KiB results
}

TEST_CASE("sgemm output tiles fit the cap, cover c, and reproduce the whole product") {
  auto job =
      parse_ok("kernel = \"sgemm\"\n[params]\nalpha = 1.0\n[inputs]\ngenerate = { dims = [150, 130, 90], seed = 3 }\n");
  expansion_limits limits;
  limits.max_payload = 48 * 1024;
  const auto units = expand_ok(job, limits);
  CHECK(units.size() > 1);
  auto one = job;
  one.split.tile_m = 150;
  one.split.tile_n = 130;
  const auto whole = expand_ok(one);
  REQUIRE(whole.size() == 1);
  const auto c = run(whole[0].task)[0];
  std::vector<int> covered(150 * 130, 0);
  for (const auto& u : units) {
    check_fits(u, limits);
    CHECK(u.task.validation == protocol::validation_mode::tolerance);
    CHECK(u.task.rtol == 1e-4);
    CHECK(u.cost > 0);
    // The label says which block: "c rows i0..i1 cols j0..j1".
    unsigned i0 = 0, i1 = 0, j0 = 0, j1 = 0;
    REQUIRE(std::sscanf(u.label.c_str(), "c rows %u..%u cols %u..%u", &i0, &i1, &j0, &j1) == 4);
    CHECK(u.task.inputs[0].shape == std::vector<std::uint64_t>{i1 - i0, 90});
    CHECK(u.task.inputs[1].shape == std::vector<std::uint64_t>{90, j1 - j0});
    const auto tile = run(u.task)[0];
    for (unsigned i = i0; i < i1; ++i)
      for (unsigned j = j0; j < j1; ++j) {
        ++covered[i * 130 + j];
        CHECK(std::memcmp(&tile.data[((i - i0) * (j1 - j0) + (j - j0)) * 4], &c.data[(i * 130 + j) * 4], 4) == 0);
      }
  }
  CHECK(std::count(covered.begin(), covered.end(), 1) == 150 * 130);
}

TEST_CASE("a job whose single unit cannot fit the message cap is refused with a clear error") {
  auto job = parse_ok("kernel = \"sgemm\"\n[inputs]\ngenerate = { dims = [4, 4, 100000], seed = 1 }\n");
  expansion_limits limits;
  limits.max_payload = 256 * 1024;
  auto r = expand_job(job, "j", limits);
  REQUIRE_FALSE(r.ok());
  CHECK(r.code() == error_code::too_large);
  CHECK(r.err().message.find("even a 1x1 output tile needs a row of a and a column of b (800000 bytes)") !=
        std::string::npos);

  // Explicit tiles too large for the cap: the unit and the sizes are named.
  auto tiles = parse_ok(
      "kernel = \"sgemm\"\n[inputs]\ngenerate = { dims = [256, 256, 256], seed = 1 }\n[split]\n"
      "tile_m = 256\ntile_n = 256\n");
  auto t = expand_job(tiles, "j", limits);
  REQUIRE_FALSE(t.ok());
  CHECK(t.err().message.find("work unit 0 (c rows 0..256 cols 0..256) cannot fit the message cap of 262144 bytes") ==
        0);
  CHECK(t.err().message.find("use smaller tiles (split.tile_m, split.tile_n)") != std::string::npos);

  // A kernel that cannot be split (histogram: one input, whole) with too much data.
  auto h = parse_ok(
      "kernel = \"histogram\"\n[params]\nlo = 0.0\nhi = 1.0\nbins = 4\n[inputs]\n"
      "generate = { dims = [100000, 4], seed = 1 }\n");
  auto hr = expand_job(h, "j", limits);
  REQUIRE_FALSE(hr.ok());
  CHECK(hr.err().message.find("work unit 0 (whole) cannot fit the message cap") == 0);
}

TEST_CASE("split by rows cuts every input along its first axis, a grid multiplies the units") {
  auto job = parse_ok(
      "kernel = \"saxpy\"\nrtol = 0.01\n[grid]\na = [1.0, 2.0, 3.0]\n[inputs]\n"
      "generate = { dims = [1000], seed = 9 }\n[split]\nrows = 300\n");
  const auto units = expand_ok(job);
  REQUIRE(units.size() == 3 * 4);
  CHECK(units[0].unit_id == "job1/0");
  CHECK(units[11].unit_id == "job1/11");
  CHECK(units[0].task.params[0].f == 1.0);
  CHECK(units[4].task.params[0].f == 2.0);
  CHECK(units[3].task.inputs[0].shape[0] == 100);
  CHECK(units[3].task.outputs[0].shape[0] == 100);
  CHECK(units[3].task.rtol == 0.01);
  CHECK(units[3].task.atol == kernels::find_kernel("saxpy")->atol);
  CHECK(units[3].task.inputs[0].name == "x");
  CHECK(units[3].task.inputs[1].name == "y");
  // Rows chosen automatically: as many as fit, and nothing is lost.
  auto automatic = parse_ok("kernel = \"saxpy\"\n[inputs]\ngenerate = { dims = [200000], seed = 9 }\n");
  expansion_limits limits;
  limits.max_payload = 256 * 1024;
  std::uint64_t rows = 0;
  for (const auto& u : expand_ok(automatic, limits)) {
    check_fits(u, limits);
    rows += u.task.inputs[0].shape[0];
  }
  CHECK(rows == 200000);
}

TEST_CASE("inputs come from inline values or files, a file of the wrong size is refused") {
  auto job = parse_ok(
      "kernel = \"copy\"\n[inputs.src]\ndtype = \"u32\"\nshape = [4]\nfile = \"src.u32\"\n[split]\nkind = \"none\"\n");
  std::map<std::string, protocol::bytes> files{{"src.u32", protocol::bytes(16, 1)}};
  file_reader reader = [&](const std::string& p) -> result<protocol::bytes> {
    if (!files.count(p)) return fail(error_code::io_error, "cannot open " + p);
    return files[p];
  };
  auto units = expand_job(job, "j", {}, reader);
  REQUIRE(units.ok());
  CHECK(units->at(0).task.inputs[0].data == protocol::bytes(16, 1));
  files["src.u32"] = protocol::bytes(15, 1);
  auto bad = expand_job(job, "j", {}, reader);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.err().message == "input 'src' (line 2): file src.u32 has 15 bytes, u32 of this shape needs 16");
  auto u8 = parse_ok("kernel = \"sha256\"\n[inputs.msgs]\ndtype = \"u8\"\nshape = [1, 2]\nvalues = [1, 256]\n");
  auto u8_units = expand_job(u8, "j");
  REQUIRE_FALSE(u8_units.ok());
  CHECK(u8_units.err().message == "input 'msgs' (line 2): value 256.000000 is not a valid u8");
  auto rel = parse_job("kernel = \"copy\"\n[inputs.src]\ndtype = \"u32\"\nshape = [4]\nfile = \"src.u32\"\n", "x.toml",
                       "/jobs");
  REQUIRE(rel.ok());
  CHECK(rel->inputs[0].file == "/jobs/src.u32");
}

TEST_CASE("issue_task fills ids, attempt, agent and validity window from the template") {
  auto job = parse_ok("kernel = \"mandelbrot\"\n[image]\nwidth = 8\nheight = 8\n");
  const auto units = expand_ok(job);
  const auto t = issue_task(units[0], 2, 5, "abcd", 1000, 2000);
  CHECK(t.task_id == "job1/0/r2");
  CHECK(t.job_id == "job1");
  CHECK(t.attempt == 5);
  CHECK(t.agent_id == "abcd");
  CHECK(t.issued_at_ms == 1000);
  CHECK(t.expires_at_ms == 2000);
  CHECK(t.kernel_version == 1);
  CHECK(t.min_memory_bytes == 8 * 8 * 4);
}

}  // namespace
}  // namespace ec::aggregator
