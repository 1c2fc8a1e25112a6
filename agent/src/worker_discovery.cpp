// The supervisor's half of discovery: spawn the child, wait for its Discovery frame until the timeout, and
// rebuild registry and selector over proxy devices. The selector reads the child's verdicts and figures from
// a copy of the device cache, so a miss here (which would "self-test" a proxy and fail) cannot poison the
// cache the child and later probes share.
#include "ec/agent/worker_discovery.hpp"

#include <algorithm>
#include <deque>

#include "worker_frame.hpp"
#include "worker_spawn.hpp"

namespace ec::agent {
namespace {

class proxy_device final : public backends::device {
 public:
  proxy_device(std::string id, protocol::device_info info) : id_(std::move(id)), info_(std::move(info)) {}
  [[nodiscard]] const protocol::device_info& info() const override { return info_; }
  [[nodiscard]] std::string id() const override { return id_; }
  [[nodiscard]] bool supports(const kernels::kernel_spec&) const override { return true; }
  result<backends::run_output> run(const kernels::bound_call&, backends::clock::time_point) override {
    return fail(error_code::unavailable, "device " + id_ + " runs kernels in a worker process only");
  }

 private:
  std::string id_;
  protocol::device_info info_;
};

class proxy_backend final : public backends::backend {
 public:
  explicit proxy_backend(backends::backend_status status) : status_(std::move(status)) {}
  [[nodiscard]] std::string name() const override { return status_.name; }
  [[nodiscard]] std::vector<backends::device*> devices() override {
    std::vector<backends::device*> out;
    for (auto& d : devices_) out.push_back(&d);
    return out;
  }
  [[nodiscard]] std::string why_unavailable() const override {
    return devices_.empty() ? (status_.why.empty() ? "no device" : status_.why) : std::string();
  }
  std::deque<proxy_device> devices_;  // stable addresses

 private:
  backends::backend_status status_;
};

std::vector<std::string> child_args(const discovery_options& o) {
  const auto state = o.probe.state_dir.empty() ? default_state_dir() : o.probe.state_dir;
  std::vector<std::string> a{"--discover",
                             "--fd",
                             std::to_string(worker::child_channel_fd),
                             "--state-dir",
                             state.string(),
                             "--memory-limit-mib",
                             std::to_string(o.memory_limit_mib)};
  if (!o.probe.module_dir.empty()) a.insert(a.end(), {"--module-dir", o.probe.module_dir.string()});
  for (const auto& d : o.probe.disabled_backends) a.insert(a.end(), {"--disable", d});
  if (!o.probe.backend_filter.empty()) a.insert(a.end(), {"--backend", o.probe.backend_filter});
  if (!o.probe.device_filter.empty()) a.insert(a.end(), {"--device-filter", o.probe.device_filter});
  if (!o.idle_priority) a.emplace_back("--no-idle");
  if (o.test_hang) a.emplace_back("--test-hang");
  return a;
}

result<worker::discovery> run_child(const discovery_options& o) {
  auto child = worker::spawn_child(o.binary, child_args(o), -1);
  if (!child) return child.err();
  auto f = worker::receive_frame(child->fd, backends::clock::now() + o.timeout);
  if (!f && f.code() == error_code::timeout) {
    worker::kill_child(*child);
    return fail(error_code::timeout, "device discovery did not finish within " + std::to_string(o.timeout.count()) +
                                         " ms (a hanging driver?); the discovery child was killed");
  }
  const auto how = worker::end_child(*child, std::chrono::milliseconds(2000));
  if (!f) return fail(error_code::unavailable, "device discovery failed: " + f.err().what() + "; the child " + how);
  auto* d = std::get_if<worker::discovery>(&*f);
  if (!d) return fail(error_code::malformed, "device discovery answered something other than Discovery");
  return std::move(*d);
}

}  // namespace

result<probe_report> discover_in_child(const discovery_options& o) {
  auto found = run_child(o);
  if (!found) return found.err();
  std::vector<std::unique_ptr<proxy_backend>> proxies;
  for (const auto& s : found->backends) proxies.push_back(std::make_unique<proxy_backend>(s));
  for (auto& d : found->devices) {
    auto it = std::find_if(proxies.begin(), proxies.end(), [&](const auto& p) { return p->name() == d.info.backend; });
    if (it == proxies.end()) return fail(error_code::malformed, "discovery names a device of an unknown backend");
    (*it)->devices_.emplace_back(d.id, d.info);
  }
  std::vector<std::unique_ptr<backends::backend>> owned(std::make_move_iterator(proxies.begin()),
                                                        std::make_move_iterator(proxies.end()));
  probe_report report;
  report.devices = backends::registry::from_backends(std::move(owned));
  report.discover_s = found->discover_s;
  report.evaluate_s = found->evaluate_s;
  const auto state = o.probe.state_dir.empty() ? default_state_dir() : o.probe.state_dir;
  std::error_code ec;
  std::filesystem::copy_file(state / "device_cache.tsv", state / "device_cache.supervisor.tsv",
                             std::filesystem::copy_options::overwrite_existing, ec);
  backends::selection_options so;
  so.cache_file = state / "device_cache.supervisor.tsv";
  so.calibrate = false;  // take the child's figures as they are
  so.backend_filter = o.probe.backend_filter;
  so.device_filter = o.probe.device_filter;
  report.selector = std::make_unique<backends::device_selector>(*report.devices, so);
  if (auto r = report.selector->evaluate(); !r) return r.err();
  return report;
}

}  // namespace ec::agent
