// Socket options Paho C does not set on the broker connection it opens itself.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ec::transport::detail {

/// Turns Nagle's algorithm off on this process's TCP sockets connected to `port`; returns how many it changed.
std::size_t disable_nagle_to_port(std::uint16_t port) noexcept;

}  // namespace ec::transport::detail
