// Fake devices for selection tests: they run the CPU reference, optionally corrupting one output byte (a driver
// that miscomputes silently) or reporting a fixed speed through a delay-free time budget.
#pragma once

#include <memory>

#include "ec/backends/backend.hpp"

namespace ec::test {

/// A device that computes with the C++ reference; `corrupt` flips a byte of every non-empty output.
class fake_device final : public backends::device {
public:
  fake_device(std::string id, protocol::device_type type, bool corrupt, unsigned repeat = 1)
      : id_(std::move(id)), corrupt_(corrupt), repeat_(repeat) {
    info_.backend = "fake";
    info_.name = id_;
    info_.driver = "fake 1.0";
    info_.type = type;
    info_.max_buffer_bytes = 1ull << 30;
  }
  [[nodiscard]] const protocol::device_info& info() const override { return info_; }
  [[nodiscard]] std::string id() const override { return id_; }
  [[nodiscard]] bool supports(const kernels::kernel_spec&) const override { return true; }
  result<backends::run_output> run(const kernels::bound_call& call, backends::clock::time_point) override {
    backends::run_output out;
    // `repeat` makes this device slower by doing the same work several times: measured, not declared.
    for (unsigned i = 0; i < repeat_; ++i) out.outputs = kernels::run_reference(call);
    if (corrupt_)
      for (auto& t : out.outputs)
        if (!t.data.empty()) t.data[t.data.size() / 2] ^= 0x40;
    return out;
  }
  protocol::device_info info_;

private:
  std::string id_;
  bool corrupt_;
  unsigned repeat_;
};

class fake_backend final : public backends::backend {
public:
  explicit fake_backend(std::vector<std::unique_ptr<fake_device>> devices) : devices_(std::move(devices)) {}
  [[nodiscard]] std::string name() const override { return "fake"; }
  [[nodiscard]] std::vector<backends::device*> devices() override {
    std::vector<backends::device*> out;
    for (auto& d : devices_) out.push_back(d.get());
    return out;
  }
  [[nodiscard]] std::string why_unavailable() const override { return {}; }

private:
  std::vector<std::unique_ptr<fake_device>> devices_;
};

}  // namespace ec::test
