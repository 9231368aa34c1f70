#include "server/change_notifier.h"

#include <memory>

namespace amlcore::server {

ChangeNotifier::ChangeNotifier() : timer_([this] { TimerLoop(); }) {}

ChangeNotifier::~ChangeNotifier() { Shutdown(); }

void ChangeNotifier::Wait(const std::string& key, Clock::time_point deadline, std::function<void()> callback) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      auto* waiter = new Waiter{key, deadline, std::move(callback)};
      by_key_.emplace(key, waiter);
      by_deadline_.emplace(deadline, waiter);
      cv_.notify_one();
      return;
    }
  }
  callback();
}

namespace {
template <class Map, class Key>
void EraseValue(Map& map, const Key& key, void* value) {
  auto [begin, end] = map.equal_range(key);
  for (auto it = begin; it != end; ++it) {
    if (it->second == value) {
      map.erase(it);
      return;
    }
  }
}
}  // namespace

void ChangeNotifier::Notify(const std::string& key) {
  std::vector<std::unique_ptr<Waiter>> ready;
  {
    std::lock_guard lock(mu_);
    auto [begin, end] = by_key_.equal_range(key);
    for (auto it = begin; it != end; ++it) {
      EraseValue(by_deadline_, it->second->deadline, it->second);
      ready.emplace_back(it->second);
    }
    by_key_.erase(begin, end);
  }
  for (auto& waiter : ready) waiter->callback();
}

void ChangeNotifier::TimerLoop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (by_deadline_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto first = by_deadline_.begin()->first;
    if (Clock::now() < first) {
      cv_.wait_until(lock, first);
      continue;
    }
    std::vector<std::unique_ptr<Waiter>> ready;
    while (!by_deadline_.empty() && by_deadline_.begin()->first <= Clock::now()) {
      Waiter* waiter = by_deadline_.begin()->second;
      by_deadline_.erase(by_deadline_.begin());
      EraseValue(by_key_, waiter->key, waiter);
      ready.emplace_back(waiter);
    }
    lock.unlock();
    for (auto& waiter : ready) waiter->callback();
    lock.lock();
  }
}

void ChangeNotifier::Shutdown() {
  std::vector<std::unique_ptr<Waiter>> ready;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    for (auto& [deadline, waiter] : by_deadline_) ready.emplace_back(waiter);
    by_deadline_.clear();
    by_key_.clear();
    cv_.notify_all();
  }
  timer_.join();
  for (auto& waiter : ready) waiter->callback();
}

}  // namespace amlcore::server
