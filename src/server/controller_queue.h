// Runs the server's controllers. Work is keyed by resource (kind and id: a compute target, a cluster, a web
// service); each kind has a reconciler that takes one step over the resource's persisted desired state and says
// when to come back: Done (until someone enqueues the key again) or RequeueAfter(d). Reconcilers never sleep or
// wait, so a few workers serve any number of resources, however long some of them take.
//
//   ControllerQueue queue(2);
//   queue.Register("service", [&](int64_t id) { return services.Reconcile(id); });
//   queue.Enqueue({"service", 12});
//
// A key is reconciled by one worker at a time; enqueueing a key while it is being reconciled runs it once more
// afterwards. A key waiting for its requeue time that is enqueued now runs now.
#ifndef AMLCORE_SERVER_CONTROLLER_QUEUE_H_
#define AMLCORE_SERVER_CONTROLLER_QUEUE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace amlcore::server {

struct ResourceKey {
  std::string kind;
  int64_t id = 0;
  auto operator<=>(const ResourceKey&) const = default;
};

class StepResult {
 public:
  using Duration = std::chrono::milliseconds;
  static StepResult Done() { return StepResult(false, Duration(0)); }
  static StepResult RequeueAfter(Duration delay) { return StepResult(true, delay); }
  bool requeue() const { return requeue_; }
  Duration delay() const { return delay_; }

 private:
  StepResult(bool requeue, Duration delay) : requeue_(requeue), delay_(delay) {}
  bool requeue_;
  Duration delay_;
};

class ControllerQueue {
 public:
  using Clock = std::chrono::steady_clock;
  using Reconciler = std::function<StepResult(int64_t id)>;

  explicit ControllerQueue(int workers);
  ~ControllerQueue();

  // Register every kind before the first Enqueue.
  void Register(const std::string& kind, Reconciler reconciler);
  void Enqueue(const ResourceKey& key);
  void EnqueueAfter(const ResourceKey& key, std::chrono::milliseconds delay);
  // Stops the workers after the steps they are taking; queued work is dropped (it is persisted, and a restart
  // enqueues it again).
  void Shutdown();
  bool stopping() const { return stopping_.load(); }

 private:
  void Worker();
  // Moves due delayed keys to the ready queue. Call with mu_ held.
  void PromoteDueLocked(Clock::time_point now);
  void AddReadyLocked(const ResourceKey& key);

  std::map<std::string, Reconciler> reconcilers_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<ResourceKey> ready_;
  std::set<ResourceKey> queued_;      // in ready_
  std::set<ResourceKey> processing_;  // being reconciled now
  std::set<ResourceKey> dirty_;       // enqueued while processing: run again afterwards
  std::map<ResourceKey, Clock::time_point> delayed_;  // earliest time each delayed key is due
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> workers_;
};

}  // namespace amlcore::server

#endif  // AMLCORE_SERVER_CONTROLLER_QUEUE_H_
