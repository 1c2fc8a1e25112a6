// systemd's notify protocol without libsystemd: datagrams to $NOTIFY_SOCKET (READY=1, WATCHDOG=1, STOPPING=1).
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace ec::agent {

/// Sends one notify message; a no-op when $NOTIFY_SOCKET is unset (not under systemd Type=notify).
void notify_service_manager(std::string_view message);
/// Half of $WATCHDOG_USEC when the service manager expects pings from this process; nothing otherwise.
std::optional<std::chrono::microseconds> watchdog_ping_interval();

}  // namespace ec::agent
