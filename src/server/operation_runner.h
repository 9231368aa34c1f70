// Runs long-running operations on a small pool of worker threads. An operation id is queued at most once at a
// time; handlers are idempotent so that an operation interrupted by a crash can simply run again.
#ifndef AMLCORE_SERVER_OPERATION_RUNNER_H_
#define AMLCORE_SERVER_OPERATION_RUNNER_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace amlcore::server {

class OperationRunner {
 public:
  using Handler = std::function<void(const std::string& operation_id)>;

  OperationRunner(int threads, Handler handler);
  ~OperationRunner();

  void Submit(const std::string& operation_id);
  // Stops taking work and waits for running handlers, which should check stopping() between phases.
  void Shutdown();
  bool stopping() const { return stopping_.load(); }

 private:
  void Loop();

  Handler handler_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::set<std::string> pending_;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;
};

}  // namespace amlcore::server

#endif  // AMLCORE_SERVER_OPERATION_RUNNER_H_
