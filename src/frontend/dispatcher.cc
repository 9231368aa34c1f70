#include "frontend/dispatcher.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/json.h"
#include "score/scoring_runtime.h"

namespace amlcore::frontend {

http::Response FrontEndMessage(int status, absl::string_view message) {
  return http::Response::Json(status, json::Serialize(json::bj::object{{"message", json::Bj(message)}}));
}

VersionDispatcher::VersionDispatcher(std::string service, std::string version, http::UpstreamClient* upstream)
    : service_(std::move(service)), version_(std::move(version)), upstream_(upstream) {}

void VersionDispatcher::SetLimits(const DispatcherLimits& limits) {
  std::lock_guard lock(mu_);
  limits_ = limits;
}

void VersionDispatcher::SetBackends(const std::vector<RoutedReplica>& wanted) {
  std::vector<std::pair<std::shared_ptr<Backend>, Pending>> forwards;
  {
    std::lock_guard lock(mu_);
    std::vector<std::shared_ptr<Backend>> next;
    for (const RoutedReplica& w : wanted) {
      auto it = std::find_if(backends_.begin(), backends_.end(),
                             [&](const auto& b) { return b->replica_id == w.id && b->address == w.address; });
      if (it != backends_.end()) {
        next.push_back(*it);
      } else {
        next.push_back(std::make_shared<Backend>(Backend{w.id, w.address, 0}));
      }
      next.back()->batch_max_size = w.batch_max_size;
    }
    for (const auto& old : backends_) {
      if (std::find(next.begin(), next.end(), old) != next.end()) continue;
      if (old->inflight > 0) retired_.push_back(old);
      upstream_->Forget(old->address);
    }
    std::erase_if(retired_, [](const auto& b) { return b->inflight == 0; });
    backends_ = std::move(next);
    // New capacity may serve queued requests at once.
    while (!queue_.empty()) {
      auto backend = PickLocked();
      if (!backend) break;
      ++backend->inflight;
      forwards.emplace_back(backend, std::move(queue_.front()));
      queue_.pop_front();
    }
  }
  for (auto& [backend, pending] : forwards) Forward(backend, std::move(pending));
}

std::vector<std::pair<std::string, std::shared_ptr<const prometheus::Histogram>>>
VersionDispatcher::ReplicaLatencies() const {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::string, std::shared_ptr<const prometheus::Histogram>>> out;
  for (const auto& b : backends_) out.emplace_back(b->replica_id, b->latency);
  return out;
}

int VersionDispatcher::Inflight(const std::string& replica_id) const {
  std::lock_guard lock(mu_);
  int total = 0;
  for (const auto* list : {&backends_, &retired_}) {
    for (const auto& b : *list) {
      if (b->replica_id == replica_id) total += b->inflight;
    }
  }
  return total;
}

int VersionDispatcher::ReadyBackends() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(backends_.size());
}

int VersionDispatcher::QueueDepth() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(queue_.size());
}

int VersionDispatcher::TotalInflight() const {
  std::lock_guard lock(mu_);
  int total = 0;
  for (const auto& b : backends_) total += b->inflight;
  return total;
}

bool VersionDispatcher::AnyReachableLocked() const {
  auto now = Clock::now();
  return std::any_of(backends_.begin(), backends_.end(), [&](const auto& b) { return now >= b->unreachable_until; });
}

int VersionDispatcher::ReplicaCap() const {
  std::lock_guard lock(mu_);
  int cap = limits_.max_concurrent_per_replica;
  for (const auto& b : backends_) cap = std::max(cap, CapLocked(*b));
  return cap;
}

int VersionDispatcher::CapLocked(const Backend& backend) const {
  if (!limits_.concurrency_given && backend.batch_max_size > 0) return backend.batch_max_size;
  return limits_.max_concurrent_per_replica;
}

int VersionDispatcher::DeliveryLimitLocked(const Backend& backend) const {
  // Nothing waits behind a run() that overran its timeout: it may never end.
  if (backend.timed_out > 0) return CapLocked(backend);
  if (backend.batch_max_size > 0) {
    // A batch gathers what the replica holds: beyond a cap the service set, it would run more at once.
    return limits_.concurrency_given ? CapLocked(backend) : 2 * backend.batch_max_size;
  }
  return CapLocked(backend) + 1;
}

std::shared_ptr<VersionDispatcher::Backend> VersionDispatcher::PickLocked() {
  std::shared_ptr<Backend> best;
  auto now = Clock::now();
  size_t n = backends_.size();
  for (size_t i = 0; i < n; ++i) {
    const auto& b = backends_[(next_ + i) % n];
    if (b->inflight >= DeliveryLimitLocked(*b) || now < b->unreachable_until) continue;
    if (!best || b->inflight < best->inflight) best = b;
  }
  if (best) next_ = (next_ + 1) % std::max<size_t>(n, 1);
  return best;
}

void VersionDispatcher::Answer(const std::shared_ptr<http::Responder>& reply, http::Response response,
                               const std::string& request_id) {
  response.headers.Set("azureml-model-deployment", version_);
  if (!request_id.empty() && !response.headers.Get("x-request-id")) {
    response.headers.Set("x-request-id", request_id);
    response.headers.Set("x-ms-request-id", request_id);
  }
  std::move(*reply)(std::move(response));
}

void VersionDispatcher::SetHoldWhenNoReplica(bool hold) {
  std::lock_guard lock(mu_);
  hold_when_no_replica_ = hold;
}

bool VersionDispatcher::Serves() const {
  std::lock_guard lock(mu_);
  return !backends_.empty() || hold_when_no_replica_;
}

void VersionDispatcher::Submit(http::Request request, http::Responder reply) {
  Pending pending{std::move(request), std::make_shared<http::Responder>(std::move(reply)), Clock::now()};
  std::shared_ptr<Backend> backend;
  {
    std::lock_guard lock(mu_);
    if (!AnyReachableLocked()) {
      // Nothing could serve it within the wait anyway, unless a replica is started for it.
      if (hold_when_no_replica_ && backends_.empty()) {
        queue_.push_back(std::move(pending));
        return;
      }
    } else if ((backend = PickLocked())) {
      ++backend->inflight;
    } else {
      queue_.push_back(std::move(pending));
      return;
    }
  }
  if (!backend) {
    metrics_.no_ready_replica.fetch_add(1, std::memory_order_relaxed);
    return Answer(pending.reply, FrontEndMessage(503, absl::StrCat("No ready replicas for service ", service_)),
                  std::string(pending.request.headers.Get("x-request-id").value_or("")));
  }
  Forward(std::move(backend), std::move(pending));
}

void VersionDispatcher::ExpireQueued() {
  std::vector<Pending> expired;
  bool waking = false;
  {
    std::lock_guard lock(mu_);
    waking = hold_when_no_replica_ && backends_.empty();
    auto now = Clock::now();
    while (!queue_.empty() && now - queue_.front().arrived >= limits_.max_queue_wait) {
      expired.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
  }
  std::string message =
      waking ? absl::StrCat("No ready replicas for service ", service_, ": it was scaled to zero and a replica is "
                            "starting; a max_request_wait_time long enough for a replica to start lets requests wait "
                            "for it")
             : absl::StrCat("Too many requests for service ", service_, " (overloaded)");
  for (auto& p : expired) {
    metrics_.wait_expired.fetch_add(1, std::memory_order_relaxed);
    Answer(p.reply, FrontEndMessage(503, message), std::string(p.request.headers.Get("x-request-id").value_or("")));
  }
}

void VersionDispatcher::Forward(std::shared_ptr<Backend> backend, Pending pending) {
  std::chrono::milliseconds timeout;
  std::chrono::milliseconds queue_wait;
  bool behind_others;  // the replica runs others before it: it goes out pipelined
  {
    std::lock_guard lock(mu_);
    timeout = limits_.scoring_timeout;
    queue_wait = limits_.max_queue_wait;
    behind_others = backend->inflight > CapLocked(*backend);
  }
  // The scoring timeout counts from arrival: time spent queued is part of it.
  auto waited = Clock::now() - pending.arrived;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(timeout - waited);
  if (left <= std::chrono::milliseconds(0)) left = std::chrono::milliseconds(1);
  pending.request.headers.Set("Connection", "keep-alive");
  if (behind_others) {
    // It may wait in the replica only as long as it could have waited in the queue here.
    auto wait_left = std::chrono::duration_cast<std::chrono::milliseconds>(queue_wait - waited);
    pending.request.headers.Set(score::kStartWithinHeader, absl::StrCat(std::max<int64_t>(1, wait_left.count())));
  } else {
    pending.request.headers.Remove(score::kStartWithinHeader);
  }
  // Kept until the answer: a request not a byte of which reached the replica is sent again elsewhere.
  auto held = std::make_shared<Pending>(std::move(pending));
  auto timed_out = std::make_shared<bool>(false);
  upstream_->Send(backend->address, held->request, left,
                  [this, backend, held, timeout, timed_out, sent = Clock::now()](
                      absl::StatusOr<http::Response> response) {
                    if (absl::IsUnavailable(response.status())) return Redirect(backend, std::move(*held));
                    if (absl::IsAborted(response.status())) LeaveOut(backend);
                    backend->latency->Observe(Clock::now() - sent);
                    http::Response out;
                    if (response.ok() && response->status == 503 &&
                        response->headers.Get(score::kNotStartedHeader)) {
                      // Pipelined, it waited in the replica as long as it could have waited in the queue.
                      metrics_.wait_expired.fetch_add(1, std::memory_order_relaxed);
                      out = FrontEndMessage(503, absl::StrCat("Too many requests for service ", service_,
                                                              " (overloaded)"));
                    } else if (response.ok()) {
                      out = std::move(*response);
                      // A failing run() is the replica's 500; to the client the gateway failed.
                      if (out.status == 500) out.status = 502;
                      out.headers.Set("Connection", "keep-alive");
                    } else if (absl::IsDeadlineExceeded(response.status())) {
                      upstream_->Forget(backend->address);
                      {
                        std::lock_guard lock(mu_);
                        ++backend->timed_out;
                        *timed_out = true;
                      }
                      metrics_.timeouts.fetch_add(1, std::memory_order_relaxed);
                      out = FrontEndMessage(504, absl::StrCat("Service ", service_, " did not answer within ",
                                                              timeout.count(), " ms"));
                    } else {
                      out = FrontEndMessage(502, absl::StrCat("The replica of service ", service_,
                                                              " failed: ", response.status().message()));
                    }
                    Answer(held->reply, std::move(out),
                           std::string(held->request.headers.Get("x-request-id").value_or("")));
                  },
                  // The replica's slot frees only when it is done: after a timeout its run() still works
                  // until it answers or its connection closes, and new requests must not queue behind it.
                  [this, backend, timed_out] { Done(backend, *timed_out); });
}

// Long enough that a dead replica costs one failed connect per second, short enough that a live one that
// was briefly busy accepting comes back before the supervisor's next probe.
constexpr auto kLeaveOut = std::chrono::seconds(1);

void VersionDispatcher::LeaveOut(const std::shared_ptr<Backend>& backend) {
  upstream_->Forget(backend->address);
  std::lock_guard lock(mu_);
  backend->unreachable_until = Clock::now() + kLeaveOut;
}

void VersionDispatcher::Redirect(const std::shared_ptr<Backend>& backend, Pending pending) {
  upstream_->Forget(backend->address);
  std::shared_ptr<Backend> chosen;
  bool queued = false;
  {
    // Its slot is freed by Done when the upstream settles the attempt.
    std::lock_guard lock(mu_);
    backend->unreachable_until = Clock::now() + kLeaveOut;
    if ((chosen = PickLocked())) {
      ++chosen->inflight;
    } else if (AnyReachableLocked()) {
      queue_.push_front(std::move(pending));
      queued = true;
    }
  }
  if (chosen) return Forward(std::move(chosen), std::move(pending));
  if (queued) return;
  metrics_.no_ready_replica.fetch_add(1, std::memory_order_relaxed);
  Answer(pending.reply, FrontEndMessage(503, absl::StrCat("No ready replicas for service ", service_)),
         std::string(pending.request.headers.Get("x-request-id").value_or("")));
}

void VersionDispatcher::Done(const std::shared_ptr<Backend>& backend, bool timed_out) {
  std::shared_ptr<Backend> chosen;
  std::optional<Pending> next;
  {
    std::lock_guard lock(mu_);
    --backend->inflight;
    if (timed_out) --backend->timed_out;
    if (!queue_.empty() && (chosen = PickLocked())) {
      ++chosen->inflight;
      next.emplace(std::move(queue_.front()));
      queue_.pop_front();
    }
  }
  if (next) Forward(std::move(chosen), std::move(*next));
}

}  // namespace amlcore::frontend
