// The worker's sandbox, applied by the worker to itself right after exec, before any driver is loaded.
#include "worker_sandbox.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/landlock.h>
#include <pwd.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

namespace ec::agent::worker {
namespace {

// Debian 12's linux-libc-dev knows Landlock ABI 2; ABI 3 adds TRUNCATE. Handling it where the kernel has it
// stops a worker from truncating files it may not write.
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif

constexpr std::uint64_t read_rights =
    LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
constexpr std::uint64_t file_rights = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
                                      LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE;

std::uint64_t handled_rights(int abi) {
  std::uint64_t r = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;  // ABI 1: EXECUTE .. MAKE_SYM
  if (abi >= 2) r |= LANDLOCK_ACCESS_FS_REFER;
  if (abi >= 3) r |= LANDLOCK_ACCESS_FS_TRUNCATE;
  // IOCTL_DEV (ABI 5) is left unhandled: GPU drivers talk to /dev/dri through ioctls.
  return r;
}

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// Adds one path-beneath rule; a path that does not exist on this machine is skipped.
result<void> add_rule(int ruleset, const std::filesystem::path& path, std::uint64_t rights) {
  const int fd = ::open(path.c_str(), O_PATH | O_CLOEXEC);
  if (fd < 0) return {};
  struct stat st {};
  if (::fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode)) rights &= file_rights;
  landlock_path_beneath_attr attr{};
  attr.allowed_access = rights;
  attr.parent_fd = fd;
  const long r = ::syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &attr, 0);
  const int saved = errno;
  ::close(fd);
  errno = saved;
  if (r != 0) return fail(error_code::io_error, errno_text(("landlock_add_rule " + path.string()).c_str()));
  return {};
}

result<void> apply_landlock(const sandbox_options& o, int abi) {
  const auto handled = handled_rights(abi);
  landlock_ruleset_attr attr{};
  attr.handled_access_fs = handled;
  const int ruleset = static_cast<int>(::syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0));
  if (ruleset < 0) return fail(error_code::io_error, errno_text("landlock_create_ruleset"));
  result<void> r;
  for (const auto& p : o.read_paths)
    if (r.ok()) r = add_rule(ruleset, p, read_rights);
  for (const auto& p : o.write_paths)
    if (r.ok()) r = add_rule(ruleset, p, handled & ~LANDLOCK_ACCESS_FS_EXECUTE);
  if (r.ok() && ::syscall(SYS_landlock_restrict_self, ruleset, 0) != 0)
    r = fail(error_code::io_error, errno_text("landlock_restrict_self"));
  ::close(ruleset);
  return r;
}

bool set_idle_priority() {
  bool ok = ::setpriority(PRIO_PROCESS, 0, 19) == 0;
  sched_param p{};
  ok = ::sched_setscheduler(0, SCHED_IDLE, &p) == 0 && ok;
  // ioprio_set has no glibc wrapper: IOPRIO_WHO_PROCESS = 1, IOPRIO_CLASS_IDLE = 3 in the top bits (<< 13).
  ok = ::syscall(SYS_ioprio_set, 1, 0, 3 << 13) == 0 && ok;
  return ok;
}

bool sanitizer_build() {
#if defined(__SANITIZE_ADDRESS__)
  return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  return true;
#else
  return false;
#endif
#else
  return false;
#endif
}

// Root without Landlock: a separate user cannot read the 0600 root-owned key. Keeps render/video for GPUs.
result<void> drop_user(const std::string& name) {
  const passwd* pw = ::getpwnam(name.c_str());
  if (!pw) return fail(error_code::unavailable, "no user '" + name + "' to run workers as");
  std::vector<gid_t> groups;
  for (const char* g : {"render", "video"})
    if (const group* gr = ::getgrnam(g)) groups.push_back(gr->gr_gid);
  if (::setgroups(groups.size(), groups.data()) != 0 || ::setgid(pw->pw_gid) != 0 || ::setuid(pw->pw_uid) != 0)
    return fail(error_code::io_error, errno_text("dropping to the worker user"));
  return {};
}

}  // namespace

int landlock_abi() {
  const long v = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  return v > 0 ? static_cast<int>(v) : 0;
}

std::vector<std::filesystem::path> default_read_paths(const std::vector<std::filesystem::path>& extra) {
  std::vector<std::filesystem::path> p{"/usr",        "/lib",        "/lib64",     "/lib32", "/etc/ld.so.cache",
                                       "/etc/OpenCL", "/etc/vulkan", "/etc/glvnd", "/proc",  "/sys",
                                       "/dev/urandom"};
  p.insert(p.end(), extra.begin(), extra.end());
  return p;
}

result<sandbox_report> enter_sandbox(const sandbox_options& o) {
  sandbox_report rep;
  // Workers die with the agent, and can never gain privileges through exec (also Landlock's precondition).
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail(error_code::io_error, errno_text("no_new_privs"));
  if (o.idle_priority) rep.idle = set_idle_priority();
  if (o.memory_limit_bytes > 0 && !sanitizer_build()) {
    const rlimit lim{o.memory_limit_bytes, o.memory_limit_bytes};
    if (::setrlimit(RLIMIT_DATA, &lim) != 0) return fail(error_code::io_error, errno_text("setrlimit(RLIMIT_DATA)"));
    rep.memory_limited = true;
  }
  rep.landlock_abi = landlock_abi();
  if (o.isolate_files && o.landlock && rep.landlock_abi > 0) {
    if (auto r = apply_landlock(o, rep.landlock_abi); !r) return r.err();
    rep.landlocked = true;
  } else if (o.isolate_files && ::geteuid() == 0) {
    if (auto r = drop_user(o.fallback_user); !r) return r.err();
    rep.user_dropped = true;
  }
  rep.text = "landlock " + (rep.landlocked ? "abi " + std::to_string(rep.landlock_abi) : std::string("off")) +
             (rep.user_dropped ? ", user " + o.fallback_user : std::string()) + ", rlimit_data " +
             (rep.memory_limited ? std::to_string(o.memory_limit_bytes >> 20) + " MiB"
                                 : std::string(sanitizer_build() ? "off (sanitizer build)" : "off")) +
             ", priority " + (rep.idle ? "idle" : "normal");
  return rep;
}

}  // namespace ec::agent::worker
