// The demo's outputs rebuilt from the validated work units (the Mandelbrot image from its tiles, the sgemm
// product from its output tiles) and checked against the kernels' C++ reference run on this machine over the
// whole problem at once, so that the split, the agents and the quorum are all checked together.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "demo_region.hpp"

namespace ec::demo {

/// A Mandelbrot render assembled from tiles: escape counts, row-major, row 0 at y_min.
struct mandelbrot_render {
  std::uint32_t width = 0, height = 0, max_iter = 0;
  std::int32_t x0 = 0, y0 = 0, dx = 0, dy = 0;  // Q3.28, as the tiles were issued
  std::uint64_t tiles = 0;
  std::vector<std::uint32_t> counts;
};

/// An sgemm product assembled from output tiles.
struct sgemm_product {
  std::uint64_t m = 0, n = 0, k = 0;
  std::uint64_t tiles = 0, tile_m = 0, tile_n = 0;
  std::vector<float> c;  // [m, n] row-major
};

/// What a comparison with the reference found.
struct check_outcome {
  bool ok = false;
  std::string detail;  // one line for the summary
};

result<mandelbrot_render> assemble_mandelbrot(region_db& db, const aggregator::job_row& job);
/// Exact comparison with the reference render of the whole view.
check_outcome check_mandelbrot(const mandelbrot_render& render);
/// Writes the render as an 8-bit palette PNG, imaginary axis up; returns an empty string or the error.
std::string write_mandelbrot_png(const mandelbrot_render& render, const std::filesystem::path& path);

result<sgemm_product> assemble_sgemm(region_db& db, const aggregator::job_row& job);
/// Element-wise comparison, within the kernel's (or the job's) tolerance, with the reference product of the
/// job's generated matrices.
check_outcome check_sgemm(const sgemm_product& product, const aggregator::job_row& job);
/// Writes C as a NumPy .npy file (little-endian f32, shape (m, n)); returns an empty string or the error.
std::string write_npy(const sgemm_product& product, const std::filesystem::path& path);

}  // namespace ec::demo
