// The CPU backend: the kernels' C++ references on a pool of idle-priority threads. Always present, registered
// last, and the device every other one is measured against.
#pragma once

#include <memory>

#include "ec/backends/backend.hpp"
#include "thread_pool.hpp"

namespace ec::backends::cpu {

class cpu_device final : public device {
public:
  explicit cpu_device(unsigned threads);
  [[nodiscard]] const protocol::device_info& info() const override { return info_; }
  [[nodiscard]] std::string id() const override { return "cpu"; }
  [[nodiscard]] bool supports(const kernels::kernel_spec& kernel) const override;
  result<run_output> run(const kernels::bound_call& call, clock::time_point deadline) override;

private:
  protocol::device_info info_;
  thread_pool pool_;
};

class cpu_backend final : public backend {
public:
  explicit cpu_backend(const backend_options& options);
  [[nodiscard]] std::string name() const override { return "cpu"; }
  [[nodiscard]] std::vector<device*> devices() override { return {&device_}; }
  [[nodiscard]] std::string why_unavailable() const override { return {}; }

private:
  cpu_device device_;
};

}  // namespace ec::backends::cpu
