// The journal's on-disk encoding: file header, record frames (magic, type, flags, length, CRC32C), payloads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "ec/agent/journal.hpp"

namespace ec::agent::detail {

/// "ECJ1", u32 LE format version, u64 LE reserved (zero).
constexpr std::size_t file_header_size = 16;
constexpr std::uint32_t format_version = 1;
/// u16 LE magic, u8 type, u8 flags, u32 LE payload length, u32 LE CRC32C of the first 8 bytes and the payload.
constexpr std::size_t frame_header_size = 12;
constexpr std::uint16_t frame_magic = 0xEC1A;
constexpr std::uint8_t flag_group_end = 0x01;  // the last record of a group: replay applies groups whole

/// CRC32C (Castagnoli), as in iSCSI and ext4; crc32c("123456789") == 0xE3069283.
std::uint32_t crc32c(protocol::byte_span data);

/// The 16-byte file header.
protocol::bytes file_header();
/// Empty when the header is valid, else why not.
std::string check_file_header(protocol::byte_span header);

/// Appends one framed record to out.
void encode_frame(protocol::bytes& out, const journal_record& record, bool group_end);
void encode_frame(protocol::bytes& out, const task_admitted& record, bool group_end);
void encode_frame(protocol::bytes& out, const result_batch_spooled& record, bool group_end);

/// The outcome of decoding the frame at the start of a span.
struct decoded_frame {
  enum class status : std::uint8_t { ok, incomplete, bad };
  status state = status::bad;
  journal_record record;
  bool group_end = false;
  std::size_t size = 0;  // frame bytes when ok; when bad, the claimed size if it fits in the span, else 0
  std::string why;       // for incomplete and bad
};

/// Decodes one frame; never reads outside `data`, whatever the bytes are.
decoded_frame decode_frame(protocol::byte_span data, std::uint32_t max_record_bytes);

}  // namespace ec::agent::detail
