#include "domain/autoscaler.h"

#include <algorithm>
#include <cmath>

namespace amlcore::domain {

Autoscaler::Autoscaler(AutoscalePolicy policy) : policy_(policy) {}

void Autoscaler::SetPolicy(const AutoscalePolicy& policy) { policy_ = policy; }

void Autoscaler::Sample(Clock::time_point now, int64_t inflight, int64_t queued) {
  if (!started_set_) {
    started_ = now;
    started_set_ = true;
  }
  int64_t demand = std::max<int64_t>(0, inflight) + std::max<int64_t>(0, queued);
  demand_sum_ += static_cast<double>(demand);
  ++samples_;
  peak_demand_ = std::max(peak_demand_, demand);
  if (demand > 0) {
    last_activity_ = now;
    seen_activity_ = true;
  }
}

int64_t Autoscaler::Recommendation() const {
  if (samples_ == 0) return 0;
  // The mean demand of the period: a burst shorter than the period moves it by its share only, a demand held
  // for the whole period counts in full. Any demand at all asks for a replica.
  double mean = demand_sum_ / static_cast<double>(samples_);
  double per_replica = static_cast<double>(std::max<int64_t>(1, policy_.max_concurrent_per_replica)) *
                       static_cast<double>(std::clamp<int64_t>(policy_.target_utilization, 1, 100)) / 100.0;
  int64_t replicas = static_cast<int64_t>(std::ceil(mean / per_replica - 1e-9));
  return peak_demand_ > 0 ? std::max<int64_t>(1, replicas) : 0;
}

AutoscaleDecision Autoscaler::Decide(Clock::time_point now, int64_t current, int64_t fits) {
  if (!started_set_) {
    started_ = now;
    started_set_ = true;
  }
  const int64_t recommended = Recommendation();
  // From zero, the requests waiting are what there is: a replica for each replica's worth of them, at full
  // utilization, so that the first answer waits for no more replicas than it needs.
  const int64_t waiting = (peak_demand_ + std::max<int64_t>(1, policy_.max_concurrent_per_replica) - 1) /
                          std::max<int64_t>(1, policy_.max_concurrent_per_replica);
  demand_sum_ = 0;
  samples_ = 0;
  peak_demand_ = 0;

  const int64_t min = std::max<int64_t>(0, policy_.min_replicas);
  const int64_t max = std::max(min, policy_.max_replicas);
  AutoscaleDecision d;
  if (min == 0) {
    bool active_recently = seen_activity_ && now - last_activity_ < policy_.refresh;
    if (current == 0) {
      window_.clear();
      if (recommended == 0 && !active_recently) return {0, 0, "steady"};
      d.wanted = std::clamp<int64_t>(waiting, 1, std::max<int64_t>(1, max));
      d.desired = std::min(d.wanted, std::max<int64_t>(1, fits));
      d.reason = "request for a version scaled to zero";
      window_.push_back({now, d.wanted});
      return d;
    }
    Clock::duration idle = now - (seen_activity_ ? last_activity_ : started_);
    if (recommended == 0 && idle >= policy_.idle_to_zero) {
      window_.clear();
      return {0, 0, "idle: scaled to zero"};
    }
  }
  // Until it goes idle, a version that may scale to zero keeps one replica.
  d.wanted = std::clamp(recommended, std::max<int64_t>(1, min), std::max<int64_t>(1, max));

  window_.push_back({now, d.wanted});
  while (!window_.empty() && now - window_.front().at > policy_.stabilization) window_.pop_front();

  if (d.wanted >= current) {
    d.desired = d.wanted;
    d.reason = d.wanted > current ? "scale up" : "steady";
  } else {
    int64_t highest = d.wanted;
    for (const auto& r : window_) highest = std::max(highest, r.replicas);
    d.desired = std::min(current, highest);
    d.reason = d.desired == current ? "held by stabilization" : "scale down";
  }
  // More than the cluster has room for waits for capacity; what runs already is never stopped for it.
  if (d.desired > fits && d.desired > current) {
    d.desired = std::max(current, fits);
    d.reason = "limited by capacity";
  }
  return d;
}

}  // namespace amlcore::domain
