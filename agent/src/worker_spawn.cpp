// posix_spawn uses CLONE_VM|CLONE_VFORK in glibc, so it is safe from any thread of the agent. Every fd the
// child should see is placed by file actions; everything above fd 4 is closed (closefrom), so a worker never
// inherits the journal, the MQTT socket or another worker's channel.
#include "worker_spawn.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

extern char** environ;  // NOLINT: POSIX

namespace ec::agent::worker {
namespace {

error sys_error(const std::string& what, int err) {
  return fail(error_code::io_error, what + ": " + std::strerror(err));
}

// The child's fds are placed with dup2 from copies above any fd number they could collide with.
constexpr int high_fd = 100;

struct spawn_attrs {
  posix_spawn_file_actions_t actions{};
  posix_spawnattr_t attr{};
  spawn_attrs() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~spawn_attrs() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  spawn_attrs(const spawn_attrs&) = delete;
  spawn_attrs& operator=(const spawn_attrs&) = delete;
};

void set_up(spawn_attrs& s, int channel, int arena) {
  posix_spawn_file_actions_addopen(&s.actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&s.actions, channel, child_channel_fd);
  if (arena >= 0) posix_spawn_file_actions_adddup2(&s.actions, arena, child_arena_fd);
  posix_spawn_file_actions_addclosefrom_np(&s.actions, child_arena_fd + 1);
  // The daemon blocks SIGTERM/SIGINT in every thread (it sigwait()s); a worker starts with defaults and its own
  // process group, so a terminal's Ctrl-C reaches the agent, which then ends its workers in order.
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGTERM, SIGINT, SIGPIPE, SIGHUP}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&s.attr, &none);
  posix_spawnattr_setsigdefault(&s.attr, &defaults);
  posix_spawnattr_setpgroup(&s.attr, 0);
  posix_spawnattr_setflags(&s.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
}

std::string describe(int status) {
  if (WIFSIGNALED(status))
    return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  return "ended";
}

std::string reap(child_process& c) {
  int status = 0;
  while (::waitpid(c.pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (c.fd >= 0) ::close(c.fd);
  c = {};
  return describe(status);
}

}  // namespace

result<child_process> spawn_child(const std::string& binary, const std::vector<std::string>& args, int arena_fd) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return sys_error("socketpair", errno);
  const int channel = ::fcntl(pair[1], F_DUPFD_CLOEXEC, high_fd);
  const int arena = arena_fd >= 0 ? ::fcntl(arena_fd, F_DUPFD_CLOEXEC, high_fd) : -1;
  ::close(pair[1]);
  std::vector<std::string> argv_s{"edge-agent", "worker"};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  spawn_attrs s;
  set_up(s, channel, arena);
  pid_t pid = -1;
  const int err = channel < 0 ? EMFILE : ::posix_spawn(&pid, binary.c_str(), &s.actions, &s.attr, argv.data(), environ);
  if (channel >= 0) ::close(channel);
  if (arena >= 0) ::close(arena);
  if (err != 0) {
    ::close(pair[0]);
    return sys_error("posix_spawn " + binary, err);
  }
  return child_process{pid, pair[0]};
}

std::string end_child(child_process& c, std::chrono::milliseconds grace) {
  if (!c.running()) return "not running";
  // A pidfd becomes readable when the process exits: wait for that, not for a fixed sleep.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, c.pid, 0));
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    while (::poll(&p, 1, static_cast<int>(grace.count())) < 0 && errno == EINTR) {
    }
    ::close(pidfd);
  }
  int status = 0;
  if (::waitpid(c.pid, &status, WNOHANG) == c.pid) {
    if (c.fd >= 0) ::close(c.fd);
    c = {};
    return describe(status);
  }
  ::kill(c.pid, SIGKILL);
  return reap(c);
}

void kill_child(child_process& c) {
  if (!c.running()) return;
  ::kill(c.pid, SIGKILL);
  reap(c);
}

}  // namespace ec::agent::worker
