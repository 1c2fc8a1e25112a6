// Paho C leaves Nagle's algorithm on. MQTT writes small packets back to back (a PUBACK, then the next PUBLISH),
// so the second one waits for the broker's delayed ACK: about 40 ms per hop, measured at 88 ms for a QoS 1
// round trip through mosquitto on loopback. Paho exposes no socket hook, so after each CONNACK the session finds
// its own socket among the process's descriptors (a TCP stream whose peer has the broker's port) and sets
// TCP_NODELAY on it. Another socket to that port in the same process only gets the same, harmless, option.
#include "socket_tuning.hpp"

#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstdlib>

namespace ec::transport::detail {
namespace {

std::uint16_t peer_port(int fd) {
  int type = 0;
  socklen_t len = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM) return 0;
  sockaddr_storage peer{};
  len = sizeof peer;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0) return 0;
  if (peer.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&peer)->sin_port);
  if (peer.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&peer)->sin6_port);
  return 0;
}

}  // namespace

std::size_t disable_nagle_to_port(std::uint16_t port) noexcept {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  const int own = ::dirfd(dir);
  std::size_t changed = 0;
  while (const dirent* e = ::readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd == own) continue;
    if (peer_port(static_cast<int>(fd)) != port) continue;
    const int one = 1;
    if (::setsockopt(static_cast<int>(fd), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0) ++changed;
  }
  ::closedir(dir);
  return changed;
}

}  // namespace ec::transport::detail
