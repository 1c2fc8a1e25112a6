// Owning wrappers for OpenCL objects: one reference each, released on destruction (no exceptions, no retain).
#pragma once

#include <utility>

#include "cl_api.hpp"

namespace ec::backends::opencl {

template <typename T, cl_int (*release)(T)>
class cl_handle {
 public:
  cl_handle() = default;
  explicit cl_handle(T h) noexcept : h_(h) {}
  ~cl_handle() { reset(); }
  cl_handle(const cl_handle&) = delete;
  cl_handle& operator=(const cl_handle&) = delete;
  cl_handle(cl_handle&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  cl_handle& operator=(cl_handle&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = std::exchange(o.h_, nullptr);
    }
    return *this;
  }

  [[nodiscard]] T get() const noexcept { return h_; }
  explicit operator bool() const noexcept { return h_ != nullptr; }
  /// Where a CL call writes a new handle (events); drops the old one first.
  T* out() noexcept {
    reset();
    return &h_;
  }
  void reset() noexcept {
    // A release of a queue or buffer with commands still pending is deferred by the runtime until they finish,
    // which is what lets a timed-out run return while its kernel keeps going.
    if (h_) release(h_);
    h_ = nullptr;
  }

 private:
  T h_ = nullptr;
};

using context_handle = cl_handle<cl_context, clReleaseContext>;
using queue_handle = cl_handle<cl_command_queue, clReleaseCommandQueue>;
using program_handle = cl_handle<cl_program, clReleaseProgram>;
using kernel_handle = cl_handle<cl_kernel, clReleaseKernel>;
using mem_handle = cl_handle<cl_mem, clReleaseMemObject>;
using event_handle = cl_handle<cl_event, clReleaseEvent>;

}  // namespace ec::backends::opencl
