// Threads running one I/O event loop. A server and the clients its handlers call can share one, so that a
// request, the calls it makes and its reply stay on the same thread instead of being handed between loops.
//
//   http::EventLoop loop(2);
//   auto server = http::Server::Start({.loop = &loop}, handler);
//   http::UpstreamClient upstream(&loop);
//   ...
//   server->Stop();
//   loop.Stop();  // before the server and the client are destroyed
#ifndef AMLCORE_COMMON_EVENT_LOOP_H_
#define AMLCORE_COMMON_EVENT_LOOP_H_

#include <functional>
#include <memory>

namespace amlcore::http {

class EventLoop {
 public:
  // Starts `threads` threads (at least one) running the loop.
  explicit EventLoop(int threads);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Stops the loop and joins its threads; work not yet run is dropped. Idempotent; not from a loop thread.
  void Stop();

  // Runs `fn` on the loop. Called from a loop thread, it runs on that same thread once the current handler
  // returns, without waking another.
  void Defer(std::function<void()> fn);

  struct Impl;  // defined in event_loop_impl.h, for the files that run Asio
  Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace amlcore::http

#endif  // AMLCORE_COMMON_EVENT_LOOP_H_
