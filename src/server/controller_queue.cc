#include "server/controller_queue.h"

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace amlcore::server {

ControllerQueue::ControllerQueue(int workers) {
  for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { Worker(); });
}

ControllerQueue::~ControllerQueue() { Shutdown(); }

void ControllerQueue::Register(const std::string& kind, Reconciler reconciler) {
  std::lock_guard lock(mu_);
  reconcilers_[kind] = std::move(reconciler);
}

void ControllerQueue::AddReadyLocked(const ResourceKey& key) {
  delayed_.erase(key);
  if (processing_.contains(key)) {
    dirty_.insert(key);
    return;
  }
  if (queued_.insert(key).second) {
    ready_.push_back(key);
    cv_.notify_one();
  }
}

void ControllerQueue::Enqueue(const ResourceKey& key) {
  std::lock_guard lock(mu_);
  if (stopping_) return;
  AddReadyLocked(key);
}

void ControllerQueue::EnqueueAfter(const ResourceKey& key, std::chrono::milliseconds delay) {
  if (delay.count() <= 0) return Enqueue(key);
  std::lock_guard lock(mu_);
  if (stopping_ || queued_.contains(key)) return;
  Clock::time_point due = Clock::now() + delay;
  auto [it, inserted] = delayed_.emplace(key, due);
  if (!inserted && due < it->second) it->second = due;
  cv_.notify_all();
}

void ControllerQueue::PromoteDueLocked(Clock::time_point now) {
  for (auto it = delayed_.begin(); it != delayed_.end();) {
    if (it->second > now) {
      ++it;
      continue;
    }
    ResourceKey key = it->first;
    it = delayed_.erase(it);
    AddReadyLocked(key);
  }
}

void ControllerQueue::Shutdown() {
  {
    std::lock_guard lock(mu_);
    if (stopping_.exchange(true)) return;
    ready_.clear();
    queued_.clear();
    delayed_.clear();
    dirty_.clear();
    cv_.notify_all();
  }
  for (auto& t : workers_) t.join();
}

void ControllerQueue::Worker() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    PromoteDueLocked(Clock::now());
    if (ready_.empty()) {
      if (delayed_.empty()) {
        cv_.wait(lock);
      } else {
        Clock::time_point next = Clock::time_point::max();
        for (const auto& [key, due] : delayed_) next = std::min(next, due);
        cv_.wait_until(lock, next);
      }
      continue;
    }
    ResourceKey key = ready_.front();
    ready_.pop_front();
    queued_.erase(key);
    processing_.insert(key);
    auto found = reconcilers_.find(key.kind);
    lock.unlock();
    StepResult result = StepResult::Done();
    if (found != reconcilers_.end()) {
      result = found->second(key.id);
    } else {
      logging::Error(absl::StrCat("no controller for ", key.kind, "/", key.id));
    }
    lock.lock();
    processing_.erase(key);
    if (stopping_) break;
    if (dirty_.erase(key) > 0) {
      AddReadyLocked(key);
    } else if (result.requeue()) {
      if (result.delay().count() <= 0) {
        AddReadyLocked(key);
      } else {
        Clock::time_point due = Clock::now() + result.delay();
        auto [it, inserted] = delayed_.emplace(key, due);
        if (!inserted && due < it->second) it->second = due;
      }
    }
  }
}

}  // namespace amlcore::server
