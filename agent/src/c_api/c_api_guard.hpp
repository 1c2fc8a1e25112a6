// Every C entry point runs its body through guarded(): no C++ exception ever crosses into the host's C code.
#pragma once

#include <exception>
#include <string>

#include "c_api_instance.hpp"

namespace ec::agent::c_api {

/// Runs `body`, turning an escaped exception into EDGE_AGENT_ERR_INTERNAL with its message.
template <typename Body>
edge_agent_status guarded(Body&& body) noexcept {
  try {
    return body();
  } catch (const std::exception& e) {
    return fail_call(EDGE_AGENT_ERR_INTERNAL, std::string("unexpected failure: ") + e.what());
  } catch (...) {
    return fail_call(EDGE_AGENT_ERR_INTERNAL, "unexpected failure");
  }
}

/// The refusal for calls made from inside the log callback (they may log, which would deadlock).
inline bool refused_in_log_callback(edge_agent_status& status) {
  if (!in_log_callback()) return false;
  status = fail_call(EDGE_AGENT_ERR_IN_CALLBACK, "edge_agent_* functions cannot be called from the log callback");
  return true;
}

}  // namespace ec::agent::c_api
