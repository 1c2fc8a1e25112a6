// The journal's on-disk encoding (see journal_codec.hpp and docs/agent-durability.md).
#include "journal_codec.hpp"

#include <array>
#include <cstring>
#include <type_traits>

namespace ec::agent::detail {

namespace {

using protocol::byte_span;
using protocol::bytes;

// Record types on disk; never renumber (old journals must replay).
enum class record_type : std::uint8_t {
  task_admitted = 1,
  task_finished = 2,
  result_batch_spooled = 3,
  receipt_applied = 4,
  control_seq = 5,
  session_seq = 6,
  batch_published = 7,
  batch_dead_lettered = 8,
  journal_meta = 9,
};

constexpr std::array<std::uint32_t, 256> make_crc_table() {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : c >> 1;  // reflected Castagnoli
    t[i] = c;
  }
  return t;
}
constexpr auto crc_table = make_crc_table();

std::uint32_t crc_update_table(std::uint32_t state, byte_span data) {
  for (const std::uint8_t b : data) state = crc_table[(state ^ b) & 0xFFu] ^ (state >> 8);
  return state;
}

#if defined(__x86_64__)
// SSE4.2's crc32 instruction is this very CRC (Castagnoli, reflected), 8 bytes per step: every admitted Task blob
// goes through here, and the table loop cost ~20 % of the agent's receive thread at 2,000 tasks/s.
__attribute__((target("sse4.2"))) std::uint32_t crc_update_sse42(std::uint32_t state, byte_span data) {
  const std::uint8_t* p = data.data();
  std::size_t n = data.size();
  std::uint64_t c = state;
  for (; n >= 8; p += 8, n -= 8) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    c = __builtin_ia32_crc32di(c, v);
  }
  auto s = static_cast<std::uint32_t>(c);
  for (; n > 0; ++p, --n) s = __builtin_ia32_crc32qi(s, *p);
  return s;
}
#endif

std::uint32_t crc_update(std::uint32_t state, byte_span data) {
#if defined(__x86_64__)
  static const bool sse42 = __builtin_cpu_supports("sse4.2");
  if (sse42) return crc_update_sse42(state, data);
#endif
  return crc_update_table(state, data);
}

// Little-endian appends.
struct writer {
  bytes& out;
  void u8(std::uint8_t v) { out.push_back(v); }
  void u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void blob(byte_span b) {
    u32(static_cast<std::uint32_t>(b.size()));
    out.insert(out.end(), b.begin(), b.end());
  }
  void str(const std::string& s) { blob(protocol::as_bytes(s)); }
  void digest(const sha256_digest& d) { out.insert(out.end(), d.begin(), d.end()); }
};

// Bounds-checked little-endian reads: after the first failure every read fails and ok stays false.
struct reader {
  byte_span d;
  std::size_t p = 0;
  bool ok = true;

  bool take(std::uint64_t n) {
    ok = ok && n <= d.size() - p;
    return ok;
  }
  std::uint64_t le(std::size_t n) {
    if (!take(n)) return 0;
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t{d[p + i]} << (8 * i);
    p += n;
    return v;
  }
  std::uint8_t u8() { return static_cast<std::uint8_t>(le(1)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(le(4)); }
  std::uint64_t u64() { return le(8); }
  byte_span span() {
    const std::uint32_t n = u32();
    if (!take(n)) return {};
    const byte_span s = d.subspan(p, std::size_t{n});
    p += n;
    return s;
  }
  bytes blob() {
    const byte_span s = span();
    return {s.begin(), s.end()};
  }
  std::string str() {
    const byte_span s = span();
    return {reinterpret_cast<const char*>(s.data()), s.size()};
  }
  sha256_digest digest() {
    sha256_digest dg{};
    if (take(dg.size())) {
      std::memcpy(dg.data(), d.data() + p, dg.size());
      p += dg.size();
    }
    return dg;
  }
  [[nodiscard]] bool done() const { return ok && p == d.size(); }
};

record_type type_of(const task_admitted&) { return record_type::task_admitted; }
record_type type_of(const task_finished&) { return record_type::task_finished; }
record_type type_of(const result_batch_spooled&) { return record_type::result_batch_spooled; }
record_type type_of(const receipt_applied&) { return record_type::receipt_applied; }
record_type type_of(const control_seq&) { return record_type::control_seq; }
record_type type_of(const session_seq&) { return record_type::session_seq; }
record_type type_of(const batch_published&) { return record_type::batch_published; }
record_type type_of(const batch_dead_lettered&) { return record_type::batch_dead_lettered; }
record_type type_of(const journal_meta&) { return record_type::journal_meta; }

void put(writer& w, const task_admitted& r) {
  w.str(r.task_id);
  w.u32(r.attempt);
  w.u64(r.expires_at_ms);
  w.digest(r.task_digest);
  w.u64(r.reserved_output_bytes);
  w.blob(r.task_blob);
}
void put(writer& w, const task_finished& r) {
  w.str(r.task_id);
  w.u32(r.attempt);
}
void put(writer& w, const result_batch_spooled& r) {
  w.u64(r.batch_id);
  w.u64(r.created_at_ms);
  w.u32(static_cast<std::uint32_t>(r.entries.size()));
  for (const auto& e : r.entries) {
    w.str(e.task_id);
    w.u32(e.attempt);
    w.digest(e.result_digest);
  }
  w.blob(r.envelope);
}
void put(writer& w, const receipt_applied& r) {
  w.str(r.task_id);
  w.u32(r.attempt);
  w.digest(r.result_digest);
  w.u8(r.accepted ? 1 : 0);
  w.str(r.reason);
}
void put(writer& w, const control_seq& r) { w.u64(r.seq); }
void put(writer& w, const session_seq& r) { w.u64(r.n); }
void put(writer& w, const batch_published& r) {
  w.u64(r.batch_id);
  w.u32(r.publish_count);
  w.u64(r.at_ms);
}
void put(writer& w, const batch_dead_lettered& r) {
  w.u64(r.batch_id);
  w.u64(r.at_ms);
}
void put(writer& w, const journal_meta& r) {
  w.u64(r.next_batch_id);
  w.u64(r.forgotten_before_ms);
}

template <typename T>
void frame(bytes& out, const T& record, bool group_end) {
  const std::size_t start = out.size();
  out.resize(start + frame_header_size);
  writer w{out};
  put(w, record);
  const std::size_t len = out.size() - start - frame_header_size;
  std::uint8_t* h = out.data() + start;
  h[0] = static_cast<std::uint8_t>(frame_magic & 0xFFu);
  h[1] = static_cast<std::uint8_t>(frame_magic >> 8);
  h[2] = static_cast<std::uint8_t>(type_of(record));
  h[3] = group_end ? flag_group_end : 0;
  for (int i = 0; i < 4; ++i) h[4 + i] = static_cast<std::uint8_t>(len >> (8 * i));
  std::uint32_t state = crc_update(~0u, byte_span(h, 8));
  state = ~crc_update(state, byte_span(h + frame_header_size, len));
  for (int i = 0; i < 4; ++i) h[8 + i] = static_cast<std::uint8_t>(state >> (8 * i));
}

bool get(reader& r, journal_record& out, record_type type) {
  switch (type) {
    case record_type::task_admitted: {
      task_admitted t;
      t.task_id = r.str();
      t.attempt = r.u32();
      t.expires_at_ms = r.u64();
      t.task_digest = r.digest();
      t.reserved_output_bytes = r.u64();
      t.task_blob = r.blob();
      out = std::move(t);
      return true;
    }
    case record_type::task_finished: {
      task_finished t;
      t.task_id = r.str();
      t.attempt = r.u32();
      out = std::move(t);
      return true;
    }
    case record_type::result_batch_spooled: {
      result_batch_spooled b;
      b.batch_id = r.u64();
      b.created_at_ms = r.u64();
      const std::uint32_t n = r.u32();
      // Each entry takes at least 40 bytes: a hostile count cannot make us reserve memory.
      if (!r.take(std::uint64_t{n} * 40)) return false;
      b.entries.reserve(n);
      for (std::uint32_t i = 0; i < n && r.ok; ++i) {
        result_entry e;
        e.task_id = r.str();
        e.attempt = r.u32();
        e.result_digest = r.digest();
        b.entries.push_back(std::move(e));
      }
      b.envelope = r.blob();
      out = std::move(b);
      return true;
    }
    case record_type::receipt_applied: {
      receipt_applied a;
      a.task_id = r.str();
      a.attempt = r.u32();
      a.result_digest = r.digest();
      const std::uint8_t accepted = r.u8();
      a.accepted = accepted == 1;
      a.reason = r.str();
      out = std::move(a);
      return accepted <= 1;
    }
    case record_type::control_seq:
      out = control_seq{r.u64()};
      return true;
    case record_type::session_seq:
      out = session_seq{r.u64()};
      return true;
    case record_type::batch_published: {
      batch_published p;
      p.batch_id = r.u64();
      p.publish_count = r.u32();
      p.at_ms = r.u64();
      out = p;
      return true;
    }
    case record_type::batch_dead_lettered: {
      batch_dead_lettered d;
      d.batch_id = r.u64();
      d.at_ms = r.u64();
      out = d;
      return true;
    }
    case record_type::journal_meta: {
      journal_meta m;
      m.next_batch_id = r.u64();
      m.forgotten_before_ms = r.u64();
      out = m;
      return true;
    }
  }
  return false;
}

std::uint32_t le32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24;
}

decoded_frame bad(std::string why, std::size_t claimed = 0) {
  decoded_frame f;
  f.state = decoded_frame::status::bad;
  f.size = claimed;
  f.why = std::move(why);
  return f;
}

}  // namespace

std::uint32_t crc32c(byte_span data) { return ~crc_update(~0u, data); }

bytes file_header() {
  bytes h{'E', 'C', 'J', '1'};
  writer w{h};
  w.u32(format_version);
  w.u64(0);
  return h;
}

std::string check_file_header(byte_span header) {
  if (header.size() < file_header_size) return "file header is " + std::to_string(header.size()) + " bytes";
  if (std::memcmp(header.data(), "ECJ1", 4) != 0) return "not a journal (magic is not ECJ1)";
  const std::uint32_t version = le32(header.data() + 4);
  if (version != format_version) return "journal format version " + std::to_string(version) + " is not supported";
  return {};
}

void encode_frame(bytes& out, const journal_record& record, bool group_end) {
  std::visit([&](const auto& r) { frame(out, r, group_end); }, record);
}
void encode_frame(bytes& out, const task_admitted& record, bool group_end) { frame(out, record, group_end); }
void encode_frame(bytes& out, const result_batch_spooled& record, bool group_end) { frame(out, record, group_end); }

decoded_frame decode_frame(byte_span data, std::uint32_t max_record_bytes) {
  decoded_frame f;
  if (data.size() < frame_header_size) {
    f.state = decoded_frame::status::incomplete;
    f.why = "partial record header (" + std::to_string(data.size()) + " bytes)";
    return f;
  }
  const std::uint8_t* h = data.data();
  if ((std::uint16_t{h[0]} | std::uint16_t{h[1]} << 8) != frame_magic) return bad("bad record magic");
  if ((h[3] & ~flag_group_end) != 0) return bad("unknown record flags");
  const std::uint32_t len = le32(h + 4);
  if (len > max_record_bytes) return bad("record length " + std::to_string(len) + " above the maximum");
  const std::size_t total = frame_header_size + len;
  if (data.size() < total) {
    f.state = decoded_frame::status::incomplete;
    f.why = "partial record (" + std::to_string(data.size()) + " of " + std::to_string(total) + " bytes)";
    return f;
  }
  std::uint32_t state = crc_update(~0u, data.first(8));
  state = ~crc_update(state, data.subspan(frame_header_size, len));
  if (state != le32(h + 8)) return bad("record CRC32C mismatch", total);
  reader r{data.subspan(frame_header_size, len)};
  if (!get(r, f.record, static_cast<record_type>(h[2])) || !r.done()) {
    return bad("undecodable record of type " + std::to_string(h[2]), total);
  }
  f.state = decoded_frame::status::ok;
  f.group_end = (h[3] & flag_group_end) != 0;
  f.size = total;
  return f;
}

}  // namespace ec::agent::detail
