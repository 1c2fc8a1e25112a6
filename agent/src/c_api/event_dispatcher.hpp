// Delivers the agent's events to the host's callback on one thread the library owns, in order, so that a slow or
// re-entrant host callback never runs on (or blocks) an executor, MQTT or timer thread.
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "edge_agent.h"

namespace ec::agent::c_api {

/// An event with its own copies of the strings (edge_agent_event points into these while it is delivered).
struct owned_event {
  edge_agent_event_kind kind = EDGE_AGENT_EVENT_STATE;
  std::string task_id;
  std::uint32_t attempt = 0;
  int result_status = 0;
  std::string result_status_name;
  std::array<std::uint8_t, 32> result_digest{};
  edge_agent_state state = EDGE_AGENT_STATE_STOPPED;
  std::string reason;
};

/// A queue and the one thread that empties it into the host's callback.
class event_dispatcher {
 public:
  event_dispatcher() = default;
  ~event_dispatcher() { stop(); }
  event_dispatcher(const event_dispatcher&) = delete;
  event_dispatcher& operator=(const event_dispatcher&) = delete;

  /// Sets the callback (only while stopped).
  void set_callback(edge_agent_event_fn fn, void* user);
  /// Starts the delivery thread.
  void start();
  /// Delivers what is queued, then joins the thread; no callback runs after it returns.
  void stop();
  /// Queues an event (any thread; never blocks on the host's callback).
  void post(owned_event event);
  /// Events handed to the callback so far.
  [[nodiscard]] std::uint64_t delivered() const;
  /// True on the delivery thread (inside the host's callback).
  [[nodiscard]] bool on_delivery_thread() const;

 private:
  void run();

  edge_agent_event_fn fn_ = nullptr;
  void* user_ = nullptr;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<owned_event> queue_;
  std::uint64_t delivered_ = 0;
  bool stopping_ = false;
  std::thread thread_;
  std::thread::id thread_id_;
};

}  // namespace ec::agent::c_api
