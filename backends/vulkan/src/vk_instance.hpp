// One backend's VkInstance: the loader opened at run time through volk, and, when validation is asked for, the
// Khronos validation layer with a debug-utils messenger whose warnings and errors are kept so callers can fail.
#pragma once

#include <volk.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ec/protocol/error.hpp"

namespace ec::backends::vulkan {

/// Warnings and errors reported by the validation layer (or the loader) since the last take().
class message_sink {
 public:
  void add(std::string message);
  /// Returns the messages kept so far and forgets them.
  std::vector<std::string> take();

 private:
  std::mutex mutex_;  // the messenger callback may run on any thread that calls into Vulkan
  std::vector<std::string> messages_;
  std::size_t dropped_ = 0;
};

class instance {
 public:
  /// Opens the loader (once per process) and creates an instance; `unavailable` when there is no loader, no
  /// Vulkan 1.1, or validation was asked for and the layer or VK_EXT_debug_utils is missing.
  static result<std::unique_ptr<instance>> create(bool validation);
  ~instance();
  instance(const instance&) = delete;
  instance& operator=(const instance&) = delete;

  [[nodiscard]] VkInstance handle() const { return instance_; }
  [[nodiscard]] bool validation() const { return validation_; }
  /// Messages of the validation layer; empty (and never filled) without validation.
  [[nodiscard]] message_sink& messages() { return *sink_; }
  /// An error carrying the kept messages, or success when there were none.
  result<void> take_messages_as_error(std::string_view when);

 private:
  instance() = default;
  VkInstance instance_ = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
  // Per instance, not volk's globals: a second instance without debug utils would reset volk's pointers to null.
  PFN_vkDestroyDebugUtilsMessengerEXT destroy_messenger_ = nullptr;
  bool validation_ = false;
  std::unique_ptr<message_sink> sink_ = std::make_unique<message_sink>();  // stable address for the callback
};

}  // namespace ec::backends::vulkan
