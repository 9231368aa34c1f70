// Wakes long-polling requests: a waiter registers a callback for a key, and is called once, either when
// someone calls Notify(key) or when its deadline passes.
#ifndef AMLCORE_SERVER_CHANGE_NOTIFIER_H_
#define AMLCORE_SERVER_CHANGE_NOTIFIER_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace amlcore::server {

class ChangeNotifier {
 public:
  using Clock = std::chrono::steady_clock;

  ChangeNotifier();
  ~ChangeNotifier();

  // `callback` runs exactly once, on the notifying thread or the notifier's timer thread. Callers register
  // first and then re-check their condition, calling Notify themselves if it already changed.
  void Wait(const std::string& key, Clock::time_point deadline, std::function<void()> callback);
  void Notify(const std::string& key);
  // Runs every pending callback now and stops the timer thread.
  void Shutdown();

 private:
  struct Waiter {
    std::string key;
    Clock::time_point deadline;
    std::function<void()> callback;
  };
  void TimerLoop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<std::string, Waiter*> by_key_;
  std::multimap<Clock::time_point, Waiter*> by_deadline_;
  bool stopping_ = false;
  std::thread timer_;
};

}  // namespace amlcore::server

#endif  // AMLCORE_SERVER_CHANGE_NOTIFIER_H_
