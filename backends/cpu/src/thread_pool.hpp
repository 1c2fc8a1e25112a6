// A fixed set of worker threads at idle scheduling priority that run parallel_for ranges for the CPU backend.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ec::backends::cpu {

class thread_pool {
public:
  /// Starts `threads - 1` workers (the caller of run() is the last one); 0 means one per core.
  explicit thread_pool(unsigned threads);
  ~thread_pool();
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;

  /// Threads that share the work, the caller included.
  [[nodiscard]] unsigned size() const { return static_cast<unsigned>(workers_.size()) + 1; }
  /// Splits [0, count) into chunks and runs body(begin, end) on all threads; `keep_going` is checked before each
  /// chunk, and once it returns false the remaining chunks are skipped. Returns false when chunks were skipped.
  bool parallel_for(std::uint64_t count, const std::function<void(std::uint64_t, std::uint64_t)>& body,
                    const std::function<bool()>& keep_going);

private:
  struct job {
    std::uint64_t count = 0, chunk = 1;
    const std::function<void(std::uint64_t, std::uint64_t)>* body = nullptr;
    const std::function<bool()>* keep_going = nullptr;
    std::atomic<std::uint64_t> next{0};
    std::atomic<bool> skipped{false};
  };
  void worker_loop();
  static void drain(job& j);

  std::vector<std::thread> workers_;
  std::mutex run_mutex_;  // one parallel_for at a time: concurrent runs would share the workers anyway
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  job* current_ = nullptr;
  std::uint64_t generation_ = 0;
  unsigned busy_ = 0;
  bool stop_ = false;
};

}  // namespace ec::backends::cpu
