// The autoscaler's decisions for one version, as a deterministic function of the load it was shown and the
// times it was told, so that every decision can be tested on recorded load traces. The front end samples the
// load continuously and asks for a decision every refresh period (and at once when a request arrives for a
// version scaled to zero).
//
// Azure's semantics: utilization = requests in flight / (ready replicas x max concurrent requests per
// replica); the desired count keeps it at the target utilization, within [min, max]. Requests waiting in the
// queue count as demand too. As Kubernetes' HorizontalPodAutoscaler does, a scale-up happens at once, and a
// scale-down only to the highest count recommended during the stabilization window, so that a steady load does
// not make the count flap. With min = 0 (an amlcore extension) the last replica stops after an idle period with
// no request at all, and the next request asks for one at once.
//
//   Autoscaler autoscaler({.min_replicas = 1, .max_replicas = 10, .target_utilization = 70});
//   autoscaler.Sample(now, /*inflight=*/5, /*queued=*/3);
//   AutoscaleDecision d = autoscaler.Decide(now, /*current=*/2, /*fits=*/6);  // d.desired == 6 (wanted 12)
#ifndef AMLCORE_DOMAIN_AUTOSCALER_H_
#define AMLCORE_DOMAIN_AUTOSCALER_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>

namespace amlcore::domain {

struct AutoscalePolicy {
  int64_t min_replicas = 1;
  int64_t max_replicas = 10;
  int64_t target_utilization = 70;      // percent
  int64_t max_concurrent_per_replica = 1;
  std::chrono::milliseconds refresh{1000};
  std::chrono::milliseconds stabilization{60000};  // a scale-down waits for demand to stay low this long
  std::chrono::milliseconds idle_to_zero{300000};  // with min_replicas = 0: no request for this long
};

struct AutoscaleDecision {
  int64_t desired = 0;  // what the version should run now
  int64_t wanted = 0;   // what the load asks for, within [min, max], before the cluster's capacity limits it
  // Why, for the operation log and /metrics: "steady", "scale up", "scale down", "held by stabilization",
  // "limited by capacity", "idle: scaled to zero", "request for a version scaled to zero".
  std::string reason;
};

class Autoscaler {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Autoscaler(AutoscalePolicy policy);

  // A new policy (service.update(autoscale_...)) applies from the next decision; the load seen so far stays.
  void SetPolicy(const AutoscalePolicy& policy);
  const AutoscalePolicy& policy() const { return policy_; }

  // One sample of the version's load: requests being served by its replicas and requests queued for them.
  void Sample(Clock::time_point now, int64_t inflight, int64_t queued);

  // The decision now, for a version that runs `current` replicas on a cluster with room for `fits` in all
  // (its own included).
  AutoscaleDecision Decide(Clock::time_point now, int64_t current, int64_t fits);

  // The replicas the load since the last decision asks for, before bounds: ceil(demand / (target x cap)).
  int64_t Recommendation() const;

 private:
  struct Recommended {
    Clock::time_point at;
    int64_t replicas;
  };

  AutoscalePolicy policy_;
  // Samples since the last decision: their sum and count give the mean demand; the peak catches bursts
  // shorter than a sample period.
  double demand_sum_ = 0;
  int64_t samples_ = 0;
  int64_t peak_demand_ = 0;
  Clock::time_point last_activity_{};
  bool seen_activity_ = false;
  Clock::time_point started_{};
  bool started_set_ = false;
  std::deque<Recommended> window_;  // recommendations within the stabilization window
};

}  // namespace amlcore::domain

#endif  // AMLCORE_DOMAIN_AUTOSCALER_H_
