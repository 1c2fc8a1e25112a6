// A small PNG writer over libpng for the demo's picture: 8-bit palette images, the smallest files for a
// rendering with at most 256 colours.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

namespace ec::demo {

/// One palette entry.
struct rgb {
  std::uint8_t r = 0, g = 0, b = 0;
};

/// Writes `indices` (width * height palette indices, row-major, top row first) as an 8-bit palette PNG with
/// the best zlib compression; returns an empty string, or what went wrong.
std::string write_palette_png(const std::filesystem::path& path, std::uint32_t width, std::uint32_t height,
                              std::span<const std::uint8_t> indices, const std::array<rgb, 256>& palette);

}  // namespace ec::demo
