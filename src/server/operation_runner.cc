#include "server/operation_runner.h"

namespace amlcore::server {

OperationRunner::OperationRunner(int threads, Handler handler) : handler_(std::move(handler)) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
}

OperationRunner::~OperationRunner() { Shutdown(); }

void OperationRunner::Submit(const std::string& operation_id) {
  std::lock_guard lock(mu_);
  if (stopping_ || !pending_.insert(operation_id).second) return;
  queue_.push_back(operation_id);
  cv_.notify_one();
}

void OperationRunner::Shutdown() {
  {
    std::lock_guard lock(mu_);
    if (stopping_.exchange(true)) return;
    queue_.clear();
    cv_.notify_all();
  }
  for (auto& t : threads_) t.join();
}

void OperationRunner::Loop() {
  while (true) {
    std::string id;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      id = std::move(queue_.front());
      queue_.pop_front();
    }
    handler_(id);
    std::lock_guard lock(mu_);
    pending_.erase(id);
  }
}

}  // namespace amlcore::server
