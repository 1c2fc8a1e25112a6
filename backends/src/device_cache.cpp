// A tab-separated text file: one line per (device, kernel) key. Text keeps it inspectable on a device with
// nothing but a shell; reasons have tabs and newlines replaced so a line stays a record.
#include "ec/backends/device_cache.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "ec/protocol/sha256.hpp"

namespace ec::backends {
namespace {

std::string hex(std::span<const std::uint8_t> b) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s;
  for (auto c : b) {
    s += digits[c >> 4];
    s += digits[c & 15];
  }
  return s;
}

std::string one_line(std::string s) {
  for (auto& c : s)
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  return s;
}

void hash_field(protocol::sha256& h, std::string_view s) {
  h.update_u32_le(static_cast<std::uint32_t>(s.size()));
  h.update(protocol::as_bytes(s));
}

result<void> write_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(error_code::io_error, "cannot write the device cache");
    done += static_cast<std::size_t>(n);
  }
  return {};
}

}  // namespace

device_cache::device_cache(std::filesystem::path file) : file_(std::move(file)) {
  if (file_.empty()) return;
  std::ifstream in(file_);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string key, passed, spc, gbps, gflops, reason;
    if (!std::getline(f, key, '\t') || !std::getline(f, passed, '\t') || !std::getline(f, spc, '\t') ||
        !std::getline(f, gbps, '\t') || !std::getline(f, gflops, '\t'))
      continue;
    std::getline(f, reason);
    device_kernel_record r;
    r.passed = passed == "1";
    r.reason = reason;
    try {
      r.seconds_per_call = std::stod(spc);
      r.gbps = std::stod(gbps);
      r.gflops = std::stod(gflops);
    } catch (const std::exception&) {
      continue;  // a damaged line: measure that pair again
    }
    records_[key] = std::move(r);
  }
}

std::string device_cache::key(const protocol::device_info& device, const kernels::kernel_spec& kernel) {
  protocol::sha256 h;
  hash_field(h, device.backend);
  hash_field(h, device.name);
  hash_field(h, device.driver);
  hash_field(h, std::string_view(reinterpret_cast<const char*>(device.uuid.data()), device.uuid.size()));
  const auto k = kernels::kernel_hash(kernel);
  h.update(k);
  return hex(h.finish());
}

std::optional<device_kernel_record> device_cache::find(const std::string& k) const {
  const auto it = records_.find(k);
  if (it == records_.end()) return std::nullopt;
  return it->second;
}

void device_cache::put(const std::string& k, device_kernel_record record) {
  record.reason = one_line(std::move(record.reason));
  records_[k] = std::move(record);
  dirty_ = true;
}

result<void> device_cache::save() {
  if (file_.empty() || !dirty_) return {};
  std::ostringstream out;
  out.precision(9);
  for (const auto& [k, r] : records_)
    out << k << '\t' << (r.passed ? 1 : 0) << '\t' << r.seconds_per_call << '\t' << r.gbps << '\t' << r.gflops
        << '\t' << r.reason << '\n';
  std::error_code ec;
  std::filesystem::create_directories(file_.parent_path(), ec);
  const auto tmp = file_.string() + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail(error_code::io_error, "cannot create " + tmp);
  auto w = write_all(fd, out.str());
  const bool synced = w && ::fsync(fd) == 0;
  ::close(fd);
  if (!synced || std::rename(tmp.c_str(), file_.c_str()) != 0) {
    std::remove(tmp.c_str());
    return fail(error_code::io_error, "cannot write " + file_.string());
  }
  dirty_ = false;
  return {};
}

}  // namespace ec::backends
