// Deadline waits: clSetEventCallback wakes a condition variable; when a driver refuses the callback, the
// event's status is polled with a growing sleep (never a busy loop, never longer than the deadline).
#include "event_wait.hpp"

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "cl_errors.hpp"

namespace ec::backends::opencl {
namespace {

// Shared by the waiter and the callback: the callback can fire after a timed-out waiter has returned, so it
// owns a reference of its own (deleted by the callback, which the runtime calls exactly once).
struct wait_state {
  std::mutex mutex;
  std::condition_variable done_cv;
  bool done = false;
  cl_int status = CL_COMPLETE;
};

void CL_CALLBACK on_complete(cl_event /*event*/, cl_int status, void* user) {
  auto* owned = static_cast<std::shared_ptr<wait_state>*>(user);
  {
    std::lock_guard lock((*owned)->mutex);
    (*owned)->done = true;
    (*owned)->status = status;
  }
  (*owned)->done_cv.notify_all();
  delete owned;
}

result<void> status_result(cl_int status, std::string_view what) {
  if (status < 0) return cl_fail(std::string(what) + " (command status)", status);
  return {};
}

result<void> poll_until(cl_event event, clock::time_point deadline, std::string_view what) {
  auto nap = std::chrono::microseconds(50);
  for (;;) {
    cl_int status = CL_QUEUED;
    if (const cl_int rc = clGetEventInfo(event, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status, &status, nullptr);
        rc != CL_SUCCESS)
      return cl_fail("clGetEventInfo", rc);
    if (status == CL_COMPLETE || status < 0) return status_result(status, what);
    const auto now = clock::now();
    if (now >= deadline) break;
    std::this_thread::sleep_for(std::min<clock::duration>(nap, deadline - now));
    nap = std::min(nap * 2, std::chrono::microseconds(2000));
  }
  return fail(error_code::timeout, std::string(what) + " still running at the deadline (OpenCL cannot cancel it)");
}

}  // namespace

result<void> wait_for_event(cl_command_queue queue, cl_event event, clock::time_point deadline, std::string_view what) {
  // Without a flush a driver may keep the command queued forever and the callback would never come.
  if (const cl_int rc = clFlush(queue); rc != CL_SUCCESS) return cl_fail("clFlush", rc);
  auto state = std::make_shared<wait_state>();
  auto* callback_ref = new std::shared_ptr<wait_state>(state);
  if (clSetEventCallback(event, CL_COMPLETE, on_complete, callback_ref) != CL_SUCCESS) {
    delete callback_ref;
    return poll_until(event, deadline, what);
  }
  std::unique_lock lock(state->mutex);
  if (!state->done_cv.wait_until(lock, deadline, [&] { return state->done; }))
    return fail(error_code::timeout, std::string(what) + " still running at the deadline (OpenCL cannot cancel it)");
  return status_result(state->status, what);
}

}  // namespace ec::backends::opencl
