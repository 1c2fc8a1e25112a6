// CPU and GPU busyness. The load average counts the agent's own workers too; the owner policy subtracts them.
#include "ec/agent/load_source.hpp"

#include <charconv>
#include <cstdlib>
#include <thread>

#include "sysfs_file.hpp"

namespace ec::agent {
namespace {

// "0-3,6,8-9" -> 7. Nothing when the list cannot be parsed.
std::optional<unsigned> count_cpu_list(std::string_view list) {
  unsigned n = 0;
  for (std::size_t pos = 0; pos < list.size();) {
    const auto comma = std::min(list.find(',', pos), list.size());
    const auto item = list.substr(pos, comma - pos);
    pos = comma + 1;
    unsigned first = 0, last = 0;
    const auto dash = item.find('-');
    const auto a = item.substr(0, dash);
    if (std::from_chars(a.data(), a.data() + a.size(), first).ec != std::errc{}) return std::nullopt;
    last = first;
    if (dash != std::string_view::npos) {
      const auto b = item.substr(dash + 1);
      if (std::from_chars(b.data(), b.data() + b.size(), last).ec != std::errc{} || last < first) return std::nullopt;
    }
    n += last - first + 1;
  }
  return n == 0 ? std::nullopt : std::optional<unsigned>(n);
}

void consider_gpu(load_reading& r, std::optional<double> percent, const std::filesystem::path& source) {
  if (!percent || *percent < 0 || *percent > 100) return;
  if (r.gpu_busy_percent && *r.gpu_busy_percent >= *percent) return;
  r.gpu_busy_percent = percent;
  r.gpu = source.string();
}

}  // namespace

load_reading read_load(const std::filesystem::path& sysfs_root) {
  load_reading r;
  if (const auto line = detail::read_sysfs_line(detail::under_root(sysfs_root, "proc/loadavg"))) {
    char* end = nullptr;
    const double v = std::strtod(line->c_str(), &end);
    if (end != line->c_str() && v >= 0) r.load1 = v;
  }
  const auto online = detail::read_sysfs_line(detail::under_root(sysfs_root, "sys/devices/system/cpu/online"));
  const auto counted = online ? count_cpu_list(*online) : std::nullopt;
  r.cpus = counted.value_or(std::max(1U, std::thread::hardware_concurrency()));
  // amdgpu: percent; Jetson nvgpu: per mille.
  for (const auto& card : detail::sysfs_entries(detail::under_root(sysfs_root, "sys/class/drm"), "card")) {
    const auto f = card / "device" / "gpu_busy_percent";
    const auto v = detail::read_sysfs_integer(f);
    consider_gpu(r, v ? std::optional<double>(static_cast<double>(*v)) : std::nullopt, f);
  }
  const auto jetson = detail::under_root(sysfs_root, "sys/devices/gpu.0/load");
  const auto per_mille = detail::read_sysfs_integer(jetson);
  consider_gpu(r, per_mille ? std::optional<double>(static_cast<double>(*per_mille) / 10.0) : std::nullopt, jetson);
  return r;
}

}  // namespace ec::agent
