#include "common/event_loop.h"

#include <pthread.h>

#include <algorithm>

#include <boost/asio/defer.hpp>

#include "common/event_loop_impl.h"

namespace amlcore::http {

EventLoop::EventLoop(int threads) : impl_(std::make_unique<Impl>(std::max(1, threads))) {
  for (int i = 0; i < std::max(1, threads); ++i) {
    impl_->threads.emplace_back([impl = impl_.get()] {
      // Named, so that `top -H` and /proc/<pid>/task tell the loop's threads from the others.
      pthread_setname_np(pthread_self(), "amlcore-io");
      impl->ioc.run();
    });
  }
}

EventLoop::~EventLoop() { Stop(); }

void EventLoop::Defer(std::function<void()> fn) { boost::asio::defer(impl_->ioc, std::move(fn)); }

void EventLoop::Stop() {
  std::call_once(impl_->stopped, [this] {
    impl_->work.reset();
    impl_->ioc.stop();
    for (auto& t : impl_->threads) {
      if (t.joinable()) t.join();
    }
  });
}

}  // namespace amlcore::http
