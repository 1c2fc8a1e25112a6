// A job as an operator submits it: a kernel, its parameters (fixed and a grid), its input tensors, how work is
// split, and the quorum, deadline, retry limit, tolerance and priority; parsed from the TOML format of docs/jobs.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ec/protocol/error.hpp"
#include "ec/protocol/messages.hpp"

namespace ec::aggregator {

/// One parameter value as written in the job (the kernel's ABI gives its dtype at expansion).
struct param_value {
  std::string name;
  bool is_integer = false;
  std::int64_t i = 0;
  double f = 0.0;
};

/// A parameter swept over values: the job's work units are the cartesian product of all grid axes.
struct grid_axis {
  std::string name;
  std::vector<param_value> values;  // each named `name`
};

/// Where an input tensor's bytes come from.
enum class tensor_origin : std::uint8_t { values, file };

/// One input tensor given in the job: inline values or a raw little-endian row-major file.
struct input_tensor {
  std::string name;
  protocol::dtype type = protocol::dtype::f32;
  std::vector<std::uint64_t> shape;
  tensor_origin origin = tensor_origin::values;
  std::vector<double> values;  // origin == values
  std::string file;            // origin == file: resolved against the job file's folder
  int line = 0;                // where it was declared, for error messages
};

/// Inputs produced by the kernel's own deterministic generator (kernel_spec::generate).
struct generated_input {
  std::vector<std::uint64_t> dims;  // as the kernel's dims_doc says, e.g. {M, N, K} for sgemm
  std::uint64_t seed = 0;
  bool adversarial = false;
};

/// A Mandelbrot render: a width x height image of the rectangle [x_min, x_max) x [y_min, y_max), pixel (0, 0) at
/// (x_min, y_min), cut into tiles of tile_width x tile_height pixels (the last row and column of tiles smaller).
struct image_spec {
  std::uint32_t width = 0, height = 0;
  double x_min = -2.5, x_max = 1.0, y_min = -1.25, y_max = 1.25;
  std::uint32_t max_iter = 256;
  std::uint32_t tile_width = 0, tile_height = 0;  // 0: chosen to fit the message cap
};

/// How a job's data is cut into work units (besides the parameter grid).
enum class split_kind : std::uint8_t {
  none,   // one unit per grid point with all inputs whole
  rows,   // inputs and outputs cut along their first axis (kernels whose tensors all share it: saxpy, copy, ...)
  tiles,  // sgemm: output tiles c[i0:i1, j0:j1] from a row block of a and a column block of b
  image,  // mandelbrot: image tiles
};

/// A parameter of custom code, with the dtype the job declares (custom code has no ABI to give it).
struct typed_param {
  param_value value;
  protocol::dtype type = protocol::dtype::f32;
};

/// An output tensor custom code writes, declared by the job: the agent allocates exactly this.
struct declared_output {
  std::string name;
  protocol::dtype type = protocol::dtype::f32;
  std::vector<std::uint64_t> shape;
};

/// A custom kernel job's code (docs/jobs.md, "Custom kernels"): the code files, its entry and dispatch sizes, the
/// operator's code signature, and the binding order of its params and outputs.
struct custom_spec {
  std::string spirv_file, opencl_file;  // at least one; resolved against the job file's folder
  std::string entry;
  std::vector<std::uint32_t> local_size;   // rank 1..3, the same rank as global_size
  std::vector<std::uint64_t> global_size;  // a multiple of local_size in every dimension
  protocol::bytes code_key_id;             // 32 bytes, as printed by `edgectl sign-code`
  protocol::bytes code_signature;          // 64 bytes
  std::vector<typed_param> params;         // in binding order (push constants / scalar arguments)
  std::vector<declared_output> outputs;    // in binding order, bound after the inputs
  protocol::validation_mode validation = protocol::validation_mode::exact;
};

struct split_spec {
  split_kind kind = split_kind::none;
  std::uint64_t rows = 0;                // rows per unit; 0: as many as fit the cap
  std::uint64_t tile_m = 0, tile_n = 0;  // sgemm output tile; 0: chosen to fit the cap
};

/// Everything a job says; defaults apply to keys it leaves out.
struct job_spec {
  std::string name;  // a label for humans; the job id is assigned on submission
  std::string kernel;
  std::uint32_t quorum = 2;          // distinct principals that must agree
  std::uint32_t max_replicas = 6;    // results (of any status) per work unit before it fails: the retry limit
  std::uint32_t max_attempts = 3;    // lease expiries per task before its replica is given up
  std::uint64_t deadline_s = 86400;  // seconds after submission by which the job should be done
  std::int32_t priority = 0;         // higher is issued first
  std::uint32_t max_runtime_ms = 60000;
  std::optional<double> rtol, atol;  // tolerance override (tolerance-mode kernels only)
  std::vector<param_value> params;
  std::vector<grid_axis> grid;
  std::vector<input_tensor> inputs;
  std::optional<generated_input> generate;
  std::optional<image_spec> image;
  split_spec split;
  std::optional<custom_spec> custom;                  // set exactly when kernel == "custom"
  std::vector<std::vector<input_tensor>> input_sets;  // custom jobs: one unit per set (and grid point), in order
};

/// Parses a job file's text; `source` (a path, or empty) prefixes messages, which name the line and the field.
/// Relative input file paths are resolved against `base_dir` when it is not empty.
result<job_spec> parse_job(std::string_view toml_text, std::string_view source = {}, std::string_view base_dir = {});

}  // namespace ec::aggregator
