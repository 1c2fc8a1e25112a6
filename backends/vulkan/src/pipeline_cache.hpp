// The on-disk copy of a device's VkPipelineCache: one file per device under backend_options::cache_dir, read at
// start and rewritten atomically (temp file, fsync, rename) after new pipelines, bounded by cache_max_bytes.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "ec/protocol/error.hpp"

namespace ec::backends::vulkan {

/// Identity a cache blob must carry in its Vulkan header (VkPipelineCacheHeaderVersionOne) to be used.
struct cache_identity {
  std::uint32_t vendor_id = 0, device_id = 0;
  std::array<std::uint8_t, 16> pipeline_cache_uuid{};
};

class pipeline_cache_file {
 public:
  /// `path` empty: no disk cache (load returns nothing, save does nothing).
  pipeline_cache_file(std::filesystem::path path, std::uint64_t max_bytes, cache_identity identity);

  /// The Vulkan blob stored in the file, or empty when there is none or it is rejected (then note() says why).
  std::vector<std::uint8_t> load();
  /// Writes the blob when the file stays within max_bytes (true); an oversize blob is not written (false) and an
  /// oversize file left by an earlier, larger bound is removed.
  result<bool> save(std::span<const std::uint8_t> blob);

  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  /// Why the last load found nothing usable ("" when it loaded or there was no file).
  [[nodiscard]] const std::string& note() const { return note_; }

  /// Bytes our own header adds before the Vulkan blob.
  static constexpr std::uint64_t header_bytes = 48;

 private:
  [[nodiscard]] bool valid_vulkan_header(std::span<const std::uint8_t> blob) const;
  std::filesystem::path path_;
  std::uint64_t max_bytes_ = 0;
  cache_identity identity_;
  std::string note_;
};

/// The file name of a device's cache: "vulkan-<deviceUUID hex>.pipelines".
std::string pipeline_cache_file_name(std::span<const std::uint8_t> device_uuid);

}  // namespace ec::backends::vulkan
