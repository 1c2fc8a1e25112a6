// The task queue both executors share, the device choice they share, and the status a backend error maps to.
#include "task_queue.hpp"

#include "custom_kernels.hpp"

namespace ec::agent {

const backends::device_entry* device_for(const backends::device_selector& selector, const execution_request& request,
                                         const std::string& group) {
  return request.custom ? choose_custom_device(selector, *request.custom, group, request.backend_hint)
                        : selector.choose(request.call.spec->name, group, request.backend_hint);
}

protocol::result_status status_of(error_code code) {
  switch (code) {
    case error_code::timeout:
      return protocol::result_status::timeout;
    case error_code::unsupported:
      return protocol::result_status::unsupported;
    case error_code::invalid_argument:
      return protocol::result_status::rejected;
    default:
      return protocol::result_status::kernel_error;
  }
}

void task_queue::push(execution_request request, executor::completion done) {
  tasks_.push_back({std::move(request), std::move(done), backends::clock::now()});
}

std::optional<task_queue::taken> task_queue::take_first(
    const std::function<const backends::device_entry*(const execution_request&)>& device_of) {
  for (auto it = tasks_.begin(); it != tasks_.end(); ++it) {
    const auto* device = device_of(it->request);
    if (device == nullptr) continue;
    taken out{std::move(*it), device};
    tasks_.erase(it);
    return out;
  }
  return std::nullopt;
}

std::vector<queued_task> task_queue::take_if(const std::function<bool(const execution_request&)>& drop) {
  std::vector<queued_task> out;
  for (auto it = tasks_.begin(); it != tasks_.end();) {
    if (drop(it->request)) {
      out.push_back(std::move(*it));
      it = tasks_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::vector<queued_task> task_queue::take_id(std::string_view task_id) {
  return take_if([&](const execution_request& r) { return r.task_id == task_id; });
}

std::vector<queued_task> task_queue::take_all() {
  std::vector<queued_task> out(std::make_move_iterator(tasks_.begin()), std::make_move_iterator(tasks_.end()));
  tasks_.clear();
  return out;
}

}  // namespace ec::agent
