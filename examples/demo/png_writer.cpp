#include "png_writer.hpp"

#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <vector>

namespace ec::demo {
namespace {

// libpng reports errors by longjmp to the setjmp in write_rows(); nothing with a destructor may live in that
// function's frame between the two, so the C++ parts (the row pointers, the file) are prepared by the caller.
struct png_job {
  std::FILE* file = nullptr;
  std::uint32_t width = 0, height = 0;
  png_bytep* rows = nullptr;
  png_colorp palette = nullptr;
  char message[256] = {};
};

void on_error(png_structp png, png_const_charp msg) {
  auto* job = static_cast<png_job*>(png_get_error_ptr(png));
  std::snprintf(job->message, sizeof job->message, "libpng: %s", msg);
  png_longjmp(png, 1);
}

void on_warning(png_structp, png_const_charp) {}

bool write_rows(png_job* job) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, job, on_error, on_warning);
  if (png == nullptr) {
    std::snprintf(job->message, sizeof job->message, "libpng: cannot create a write struct");
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (info == nullptr || setjmp(png_jmpbuf(png)) != 0) {
    png_destroy_write_struct(&png, &info);
    if (job->message[0] == '\0') std::snprintf(job->message, sizeof job->message, "libpng: out of memory");
    return false;
  }
  png_init_io(png, job->file);
  png_set_compression_level(png, 9);
  png_set_IHDR(png, info, job->width, job->height, 8, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_set_PLTE(png, info, job->palette, 256);
  png_write_info(png, info);
  png_write_image(png, job->rows);
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}

}  // namespace

std::string write_palette_png(const std::filesystem::path& path, std::uint32_t width, std::uint32_t height,
                              std::span<const std::uint8_t> indices, const std::array<rgb, 256>& palette) {
  if (width == 0 || height == 0 || indices.size() != std::size_t{width} * height)
    return "write_palette_png: " + std::to_string(indices.size()) + " indices for a " + std::to_string(width) + "x" +
           std::to_string(height) + " image";
  std::vector<png_bytep> rows(height);
  for (std::uint32_t y = 0; y < height; ++y)
    rows[y] = const_cast<png_bytep>(indices.data() + std::size_t{y} * width);  // libpng only reads them
  std::vector<png_color> colours(palette.size());
  for (std::size_t i = 0; i < palette.size(); ++i) colours[i] = {palette[i].r, palette[i].g, palette[i].b};

  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return "cannot create " + path.string();
  png_job job;
  job.file = file;
  job.width = width;
  job.height = height;
  job.rows = rows.data();
  job.palette = colours.data();
  const bool ok = write_rows(&job);
  const bool closed = std::fclose(file) == 0;
  if (!ok) return path.string() + ": " + job.message;
  if (!closed) return "cannot write " + path.string();
  return {};
}

}  // namespace ec::demo
