// Loading order and failure reporting of backends. A module that is missing, fails to load, or was built for
// another API version is reported with the reason and skipped; the CPU backend is always added last.
#include "ec/backends/registry.hpp"

#include <dlfcn.h>

#include <cstdlib>

#include "cpu_backend.hpp"
#include "ec/backends/module_abi.hpp"
#include "ec/backends/module_location.hpp"

namespace ec::backends {

struct registry::loaded_module {
  void* handle = nullptr;
  ~loaded_module() {
    if (handle) ::dlclose(handle);
  }
};

std::filesystem::path default_module_dir() {
  if (const char* env = std::getenv("EC_BACKEND_PATH"); env && *env) return env;
  // An installed binary uses its own install's modules; a build tree's binary is in no bindir or libdir.
  if (auto installed = installed_module_dir(this_binary_dir(), built_in_install_layout()); !installed.empty())
    return installed;
  return EC_DEFAULT_MODULE_DIR;
}

namespace {

std::string dl_error() {
  const char* e = ::dlerror();
  return e ? e : "unknown dlopen error";
}

bool is_disabled(const registry_options& o, const std::string& name) {
  for (const auto& d : o.disabled)
    if (d == name) return true;
  return false;
}

}  // namespace

std::unique_ptr<backend> make_cpu_backend(const backend_options& options) {
  return std::make_unique<cpu::cpu_backend>(options);
}

std::vector<std::string> module_backend_names() { return {"vulkan", "opencl"}; }

std::unique_ptr<registry> registry::load(const registry_options& options) {
  std::unique_ptr<registry> r(new registry());
  r->module_dir_ = options.module_dir.empty() ? default_module_dir() : options.module_dir;
  for (const auto& name : module_backend_names()) {
    backend_status st{name, false, {}, (r->module_dir_ / ("libec_backend_" + name + ".so")).string()};
    if (is_disabled(options, name)) {
      st.why = "disabled by configuration";
    } else if (!std::filesystem::exists(st.module_path)) {
      st.why = "module " + st.module_path + " not found";
    } else {
      auto mod = std::make_unique<loaded_module>();
      // RTLD_LOCAL: two modules may carry different copies of the same helper code without clashing.
      // RTLD_NODELETE: GPU drivers loaded by a module do not survive being unloaded under them, and code that
      // stays mapped keeps leak reports and stack traces symbolised.
      mod->handle = ::dlopen(st.module_path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
      if (!mod->handle) {
        st.why = "cannot load module: " + dl_error();
      } else {
        auto version = reinterpret_cast<ec_backend_api_version_fn>(::dlsym(mod->handle, EC_BACKEND_API_VERSION_SYMBOL));
        auto create = reinterpret_cast<ec_backend_create_fn>(::dlsym(mod->handle, EC_BACKEND_CREATE_SYMBOL));
        if (!version || !create) {
          st.why = "module lacks the entry points " EC_BACKEND_API_VERSION_SYMBOL " / " EC_BACKEND_CREATE_SYMBOL;
        } else if (version() != EC_BACKEND_API_VERSION) {
          st.why = "module API version " + std::to_string(version()) + ", agent expects " +
                   std::to_string(EC_BACKEND_API_VERSION);
        } else {
          std::unique_ptr<backend> b(create(&options.backend));
          st.why = b->why_unavailable();
          if (st.why.empty() && b->devices().empty()) st.why = "no device";
          st.available = st.why.empty();
          r->backends_.push_back(std::move(b));
          r->modules_.push_back(std::move(mod));
        }
      }
    }
    r->status_.push_back(std::move(st));
  }
  r->backends_.push_back(std::make_unique<cpu::cpu_backend>(options.backend));
  r->status_.push_back({"cpu", true, {}, {}});
  for (auto& b : r->backends_)
    for (auto* d : b->devices()) r->devices_.push_back({d, d->info()});
  assign_resource_groups(r->devices_);
  return r;
}

std::unique_ptr<registry> registry::from_backends(std::vector<std::unique_ptr<backend>> backends) {
  std::unique_ptr<registry> r(new registry());
  for (auto& b : backends) {
    auto why = b->why_unavailable();
    r->status_.push_back({b->name(), why.empty(), why, {}});
    for (auto* d : b->devices()) r->devices_.push_back({d, d->info()});
  }
  r->backends_ = std::move(backends);
  assign_resource_groups(r->devices_);
  return r;
}

registry::~registry() {
  devices_.clear();
  backends_.clear();  // before modules_: the backends' code lives in the modules
  modules_.clear();
}

const device_entry* registry::find(std::string_view id) const {
  for (const auto& d : devices_)
    if (d.dev->id() == id) return &d;
  return nullptr;
}

}  // namespace ec::backends
