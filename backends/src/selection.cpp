// Choice by measurement: a CPU-type Vulkan device (lavapipe) is legitimate but must win on figures, never on its
// type; within a resource group the devices are alternatives sharing the same slots.
#include "ec/backends/selection.hpp"

#include <algorithm>
#include <limits>

#include "ec/backends/calibration.hpp"
#include "ec/backends/quirks.hpp"
#include "ec/kernels/catalog.hpp"

namespace ec::backends {
namespace {

bool contains(std::string_view text, std::string_view part) { return text.find(part) != text.npos; }

bool skipped_by_quirk(const device_entry& d, const kernels::kernel_spec& k, std::string& why) {
  const auto q = quirks_for(d.info);
  if (std::find(q.skipped_kernels.begin(), q.skipped_kernels.end(), k.name) == q.skipped_kernels.end()) return false;
  why = "disabled by quirk: " + (q.notes.empty() ? std::string() : q.notes.front());
  return true;
}

}  // namespace

device_selector::device_selector(const registry& devices, selection_options options)
    : registry_(devices), options_(std::move(options)), cache_(options_.cache_file) {}

result<void> device_selector::evaluate() {
  statuses_.clear();
  for (const auto& d : registry_.devices()) {
    for (const auto* k : kernels::catalog()) {
      kernel_device_status st{k, &d, {}, false, 0};
      const auto key = device_cache::key(d.info, *k);
      std::string why;
      if (skipped_by_quirk(d, *k, why)) {
        st.record.reason = why;
      } else if (auto hit = cache_.find(key); hit && !options_.recalibrate &&
                                              (!options_.calibrate || !hit->passed || hit->seconds_per_call > 0)) {
        st.record = *hit;
        st.from_cache = true;
      } else {
        const auto t0 = clock::now();
        st.record = self_test(*d.dev, *k);
        if (st.record.passed && options_.calibrate) calibrate(*d.dev, *k, st.record);
        st.evaluate_s = std::chrono::duration<double>(clock::now() - t0).count();
        cache_.put(key, st.record);
      }
      statuses_.push_back(std::move(st));
    }
  }
  return cache_.save();
}

bool device_selector::allowed(const device_entry& d) const {
  if (!options_.backend_filter.empty() && d.info.backend != options_.backend_filter) return false;
  if (!options_.device_filter.empty() && !contains(d.dev->id(), options_.device_filter) &&
      !contains(d.info.name, options_.device_filter))
    return false;
  return true;
}

const device_entry* device_selector::choose(std::string_view kernel, std::string_view resource_group,
                                            std::string_view backend_hint) const {
  const device_entry* best = nullptr;
  const device_entry* best_hinted = nullptr;
  double best_s = std::numeric_limits<double>::infinity(), best_hinted_s = best_s;
  for (const auto& st : statuses_) {
    if (st.kernel->name != kernel || st.device->info.resource_group != resource_group) continue;
    if (!st.record.passed || !allowed(*st.device)) continue;
    // Uncalibrated devices rank after calibrated ones, in registry order (CPU last).
    const double s = st.record.seconds_per_call > 0 ? st.record.seconds_per_call : 1e9;
    if (s < best_s || !best) best = st.device, best_s = s;
    if (!backend_hint.empty() && st.device->info.backend == backend_hint && (s < best_hinted_s || !best_hinted))
      best_hinted = st.device, best_hinted_s = s;
  }
  return best_hinted ? best_hinted : best;
}

std::vector<const device_entry*> device_selector::devices_in(std::string_view resource_group) const {
  std::vector<const device_entry*> out;
  for (const auto& d : registry_.devices())
    if ((resource_group.empty() || d.info.resource_group == resource_group) && allowed(d)) out.push_back(&d);
  return out;
}

std::vector<std::string> device_selector::resource_groups() const {
  std::vector<std::string> groups;
  for (const auto& d : registry_.devices())
    if (std::find(groups.begin(), groups.end(), d.info.resource_group) == groups.end())
      groups.push_back(d.info.resource_group);
  return groups;
}

std::vector<std::string> device_selector::kernels_passed(const device_entry& device) const {
  std::vector<std::string> names;
  for (const auto& st : statuses_)
    if (st.device == &device && st.record.passed) names.emplace_back(st.kernel->name);
  return names;
}

}  // namespace ec::backends
