// Routes the requests of one service version to its ready replicas: at most N run by a replica at once (the
// service's replica_max_concurrent_requests, or a batching replica's batch size when the service leaves it unset), the
// least-loaded replica first, the rest queued up to the service's wait limit, each answered within the
// scoring timeout. Dispatch is pipelined: beyond those N, a replica also holds the request (or, batching, the
// batch) it runs next, so that it goes from one to the next without waiting for a round trip to the front end;
// the replica runs its calls one at a time, so the cap on run() calls holds. A replica with a batch cap set by
// the service, or still running a request that timed out, gets nothing beyond its cap. A request not a byte of which reached a replica (it died, its socket is closed) goes to
// another one, and that replica is left out for a while, so a crash fails only the requests it was serving.
// A request whose bytes reached a replica that then failed is answered 502 and never sent again: it may be
// what killed the replica, and sending it on would kill the next one too. A replica whose request timed out
// (504) keeps its slot until it answers or its connection closes: its run() is still busy. Counts what it
// does for /metrics.
#ifndef AMLCORE_FRONTEND_DISPATCHER_H_
#define AMLCORE_FRONTEND_DISPATCHER_H_

#include <array>
#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/http_server.h"
#include "common/http_upstream.h"
#include "common/prometheus.h"

namespace amlcore::frontend {

using Clock = std::chrono::steady_clock;

// What the front end counts of one version's requests. Status codes and latency are those of users' requests;
// the workspace server's readiness probes through the front end are counted apart.
struct VersionMetrics {
  prometheus::StatusCounts responses;
  prometheus::StatusCounts probe_responses;
  prometheus::Histogram latency;  // arrival to answer
  // Requests answered 503 without running: they waited longer than max_request_wait_time (in the queue, or
  // delivered to a busy replica), or no replica was ready.
  std::atomic<uint64_t> wait_expired{0};
  std::atomic<uint64_t> no_ready_replica{0};
  std::atomic<uint64_t> timeouts{0};  // answered 504: no answer within scoring_timeout_ms
};

// A ready replica as the dispatcher routes to it.
struct RoutedReplica {
  std::string id;
  http::UpstreamAddress address;
  // Its score.py's run_batch() takes this many requests at once (0: it has none). Unless the service sets
  // replica_max_concurrent_requests, the replica is sent that many at once, so that its batches can fill.
  int batch_max_size = 0;
};

struct DispatcherLimits {
  int max_concurrent_per_replica = 1;
  // Whether the service set replica_max_concurrent_requests (else a batching replica takes its batch size).
  bool concurrency_given = true;
  std::chrono::milliseconds max_queue_wait{500};
  std::chrono::milliseconds scoring_timeout{60000};
};

class VersionDispatcher {
 public:
  VersionDispatcher(std::string service, std::string version, http::UpstreamClient* upstream);

  void SetLimits(const DispatcherLimits& limits);
  // A version that scales to zero: with no ready replica, requests wait in the queue (up to the wait limit)
  // for the replica its autoscaler starts, instead of a 503 at once.
  void SetHoldWhenNoReplica(bool hold);
  // Whether requests can be sent to it: it has a ready replica, or it holds them while one starts (scaled to
  // zero). A version that can keeps its share of an endpoint's traffic.
  bool Serves() const;
  // The replicas to route to (ready and not draining), by id and address; keeps counts of those that stay.
  void SetBackends(const std::vector<RoutedReplica>& backends);
  // Requests in flight to a replica (0 for unknown ones).
  int Inflight(const std::string& replica_id) const;
  int ReadyBackends() const;
  // How many requests a replica runs at once: the service's cap, or a batching replica's batch size.
  int ReplicaCap() const;
  int QueueDepth() const;
  int TotalInflight() const;

  // Takes a scoring request: forwards it, queues it, or answers 503 at once when no replica is ready.
  void Submit(http::Request request, http::Responder reply);
  // Answers 503 to queued requests that waited too long.
  void ExpireQueued();

  const std::string& service() const { return service_; }
  const std::string& version() const { return version_; }
  VersionMetrics& metrics() { return metrics_; }
  // Each routed replica's latency (from sending a request to its answer), by replica id.
  std::vector<std::pair<std::string, std::shared_ptr<const prometheus::Histogram>>> ReplicaLatencies() const;

 private:
  struct Backend {
    std::string replica_id;
    http::UpstreamAddress address;
    int inflight = 0;
    int batch_max_size = 0;
    std::shared_ptr<prometheus::Histogram> latency = std::make_shared<prometheus::Histogram>();
    // Requests answered 504 that the replica has not finished yet: its run() is still busy with one.
    int timed_out = 0;
    // Not picked before this time: a request could not be delivered to it.
    Clock::time_point unreachable_until{};
  };
  struct Pending {
    http::Request request;
    std::shared_ptr<http::Responder> reply;
    Clock::time_point arrived;
  };

  // Picks the least-loaded reachable backend with room; null when all are full. Call with mu_ held.
  std::shared_ptr<Backend> PickLocked();
  bool AnyReachableLocked() const;
  // How many requests `backend` runs at once. Call with mu_ held.
  int CapLocked(const Backend& backend) const;
  // How many requests `backend` may hold: its cap, and what it runs next. Call with mu_ held.
  int DeliveryLimitLocked(const Backend& backend) const;
  void Forward(std::shared_ptr<Backend> backend, Pending pending);
  // `backend` could not be reached: leaves it out for a while and sends `pending` to another replica.
  void Redirect(const std::shared_ptr<Backend>& backend, Pending pending);
  // `backend` broke a connection mid-request (it is probably dying): no new requests for a while.
  void LeaveOut(const std::shared_ptr<Backend>& backend);
  // The replica is done with a request (`timed_out`: one answered 504 already): frees its slot and hands it the
  // next queued request.
  void Done(const std::shared_ptr<Backend>& backend, bool timed_out);
  // Sends the reply with this version's headers; `request_id` is echoed when the replica did not.
  void Answer(const std::shared_ptr<http::Responder>& reply, http::Response response, const std::string& request_id);

  const std::string service_;
  const std::string version_;
  http::UpstreamClient* upstream_;
  mutable std::mutex mu_;
  DispatcherLimits limits_;
  bool hold_when_no_replica_ = false;
  std::vector<std::shared_ptr<Backend>> backends_;
  // Replicas no longer routed to that still have requests in flight (their replica must not stop yet).
  std::vector<std::shared_ptr<Backend>> retired_;
  std::deque<Pending> queue_;
  size_t next_ = 0;  // rotates ties between equally loaded replicas
  VersionMetrics metrics_;
};

// The JSON error body of the front end: {"message": ...}.
http::Response FrontEndMessage(int status, absl::string_view message);

}  // namespace amlcore::frontend

#endif  // AMLCORE_FRONTEND_DISPATCHER_H_
