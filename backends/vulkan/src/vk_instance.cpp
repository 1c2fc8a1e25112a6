// Loader, instance and validation messenger. volk's global function pointers are process-wide: instance-level
// entry points come from the loader's trampolines (valid for every instance), so they are loaded once;
// device-level calls go through a VolkDeviceTable per device (vulkan_device.cpp).
#include "vk_instance.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cstring>

#include "vk_check.hpp"

namespace ec::backends::vulkan {
namespace {

constexpr const char* validation_layer = "VK_LAYER_KHRONOS_validation";
constexpr std::size_t max_kept_messages = 64;  // a broken shader can report one message per dispatch

// volkInitialize dlopens libvulkan.so.1; done once, the answer (and dlerror's reason) kept for every backend.
struct loader_state {
  VkResult result = VK_ERROR_INITIALIZATION_FAILED;
  std::string why;
};

const loader_state& open_loader() {
  static const loader_state state = [] {
    loader_state s;
    s.result = volkInitialize();
    if (s.result != VK_SUCCESS) {
      const char* reason = ::dlerror();
      s.why = "libvulkan.so.1 not found (Vulkan loader missing)";
      if (reason) s.why += std::string(": ") + reason;
    }
    return s;
  }();
  return state;
}

// volkLoadInstanceOnly writes process-wide pointers: serialise instance creation between backends.
std::mutex& volk_mutex() {
  static std::mutex m;
  return m;
}

VKAPI_ATTR VkBool32 VKAPI_CALL on_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                          VkDebugUtilsMessageTypeFlagsEXT,
                                          const VkDebugUtilsMessengerCallbackDataEXT* data, void* user) {
  std::string m = (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT) ? "error: " : "warning: ";
  if (data && data->pMessageIdName) m += std::string(data->pMessageIdName) + ": ";
  if (data && data->pMessage) m += data->pMessage;
  static_cast<message_sink*>(user)->add(std::move(m));
  return VK_FALSE;  // never abort the call: the run fails afterwards with the message
}

bool has_layer(const char* name) {
  std::uint32_t n = 0;
  if (vkEnumerateInstanceLayerProperties(&n, nullptr) != VK_SUCCESS) return false;
  std::vector<VkLayerProperties> layers(n);
  if (vkEnumerateInstanceLayerProperties(&n, layers.data()) < 0) return false;
  return std::any_of(layers.begin(), layers.begin() + n,
                     [&](const VkLayerProperties& l) { return std::strcmp(l.layerName, name) == 0; });
}

bool has_extension(const char* layer, const char* name) {
  std::uint32_t n = 0;
  if (vkEnumerateInstanceExtensionProperties(layer, &n, nullptr) != VK_SUCCESS) return false;
  std::vector<VkExtensionProperties> exts(n);
  if (vkEnumerateInstanceExtensionProperties(layer, &n, exts.data()) < 0) return false;
  return std::any_of(exts.begin(), exts.begin() + n,
                     [&](const VkExtensionProperties& e) { return std::strcmp(e.extensionName, name) == 0; });
}

}  // namespace

void message_sink::add(std::string message) {
  const std::lock_guard lock(mutex_);
  if (messages_.size() < max_kept_messages)
    messages_.push_back(std::move(message));
  else
    ++dropped_;
}

std::vector<std::string> message_sink::take() {
  const std::lock_guard lock(mutex_);
  auto out = std::move(messages_);
  messages_.clear();
  if (dropped_ > 0) out.push_back("(" + std::to_string(dropped_) + " more messages dropped)");
  dropped_ = 0;
  return out;
}

result<std::unique_ptr<instance>> instance::create(bool validation) {
  const auto& loader = open_loader();
  if (loader.result != VK_SUCCESS) return fail(error_code::unavailable, loader.why);
  const std::lock_guard lock(volk_mutex());

  // SPIR-V 1.3 (glslc --target-env=vulkan1.1) and vkGetPhysicalDeviceProperties2 need Vulkan 1.1.
  const std::uint32_t loader_version = volkGetInstanceVersion();
  if (loader_version < VK_API_VERSION_1_1)
    return fail(error_code::unavailable, "the Vulkan loader supports only Vulkan " +
                                             std::to_string(VK_API_VERSION_MAJOR(loader_version)) + "." +
                                             std::to_string(VK_API_VERSION_MINOR(loader_version)) + "; 1.1 needed");

  std::unique_ptr<instance> inst(new instance());
  inst->validation_ = validation;
  std::vector<const char*> layers, extensions;
  if (validation) {
    // Asked-for validation that cannot run must not pass silently: the caller relies on it to catch misuse.
    if (!has_layer(validation_layer))
      return fail(error_code::unavailable,
                  "validation requested but the Vulkan layer VK_LAYER_KHRONOS_validation is not installed");
    if (!has_extension(nullptr, VK_EXT_DEBUG_UTILS_EXTENSION_NAME) &&
        !has_extension(validation_layer, VK_EXT_DEBUG_UTILS_EXTENSION_NAME))
      return fail(error_code::unavailable, "validation requested but VK_EXT_debug_utils is not available");
    layers.push_back(validation_layer);
    extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
  }

  VkDebugUtilsMessengerCreateInfoEXT messenger_info{};
  messenger_info.sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT;
  messenger_info.messageSeverity =
      VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
  messenger_info.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                               VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                               VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
  messenger_info.pfnUserCallback = on_message;
  messenger_info.pUserData = inst->sink_.get();

  VkApplicationInfo app{};
  app.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO;
  app.pApplicationName = "edgecompute";
  app.pEngineName = "edgecompute";
  app.apiVersion = loader_version >= VK_API_VERSION_1_3 ? VK_API_VERSION_1_3 : loader_version;

  VkInstanceCreateInfo ci{};
  ci.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO;
  ci.pNext = validation ? &messenger_info : nullptr;  // also catches messages of vkCreate/DestroyInstance
  ci.pApplicationInfo = &app;
  ci.enabledLayerCount = static_cast<std::uint32_t>(layers.size());
  ci.ppEnabledLayerNames = layers.data();
  ci.enabledExtensionCount = static_cast<std::uint32_t>(extensions.size());
  ci.ppEnabledExtensionNames = extensions.data();
  if (const VkResult r = vkCreateInstance(&ci, nullptr, &inst->instance_); r != VK_SUCCESS) {
    inst->instance_ = VK_NULL_HANDLE;
    auto e = vk_error("vkCreateInstance", r);
    if (r == VK_ERROR_INCOMPATIBLE_DRIVER) {  // the loader found no usable ICD
      e.code = error_code::unavailable;
      e.message = "no Vulkan driver (ICD) installed: " + e.message;
    }
    return e;
  }
  // Instance-level entry points are the loader's trampolines, the same for every instance (extension entry
  // points, which are not, are fetched per instance below): load them once, so that no thread ever sees volk's
  // globals being rewritten while it calls through them.
  static bool instance_functions_loaded = false;
  if (!instance_functions_loaded) {
    volkLoadInstanceOnly(inst->instance_);
    instance_functions_loaded = true;
  }

  if (validation) {
    const auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(inst->instance_, "vkCreateDebugUtilsMessengerEXT"));
    inst->destroy_messenger_ = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(inst->instance_, "vkDestroyDebugUtilsMessengerEXT"));
    if (!create || !inst->destroy_messenger_)
      return fail(error_code::unavailable, "validation requested but vkCreateDebugUtilsMessengerEXT is missing");
    EC_VK_TRY(create(inst->instance_, &messenger_info, nullptr, &inst->messenger_));
    if (auto r = inst->take_messages_as_error("instance creation"); !r) return r.err();
  }
  return inst;
}

instance::~instance() {
  if (messenger_ != VK_NULL_HANDLE) destroy_messenger_(instance_, messenger_, nullptr);
  if (instance_ != VK_NULL_HANDLE) vkDestroyInstance(instance_, nullptr);
}

result<void> instance::take_messages_as_error(std::string_view when) {
  if (!validation_) return {};
  auto messages = sink_->take();
  if (messages.empty()) return {};
  std::string text = "validation layer during " + std::string(when) + ": " + messages.front();
  if (messages.size() > 1) text += " (+" + std::to_string(messages.size() - 1) + " more)";
  return fail(error_code::device_error, std::move(text));
}

}  // namespace ec::backends::vulkan
