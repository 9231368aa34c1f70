// The Asio side of EventLoop; included only by the .cc files that do I/O on it.
#ifndef AMLCORE_COMMON_EVENT_LOOP_IMPL_H_
#define AMLCORE_COMMON_EVENT_LOOP_IMPL_H_

#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "common/event_loop.h"

namespace amlcore::http {

struct EventLoop::Impl {
  explicit Impl(int threads) : ioc(threads) {}
  boost::asio::io_context ioc;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{ioc.get_executor()};
  std::vector<std::thread> threads;
  std::once_flag stopped;
};

}  // namespace amlcore::http

#endif  // AMLCORE_COMMON_EVENT_LOOP_IMPL_H_
