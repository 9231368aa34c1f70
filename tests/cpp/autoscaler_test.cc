// The autoscaler's decisions on recorded load traces (domain/autoscaler.h): no clock, no processes.
#include "domain/autoscaler.h"

#include <gtest/gtest.h>

#include <vector>

namespace amlcore::domain {
namespace {

using namespace std::chrono_literals;
using Clock = Autoscaler::Clock;

// Feeds `seconds` of a steady load (10 samples a second) and decides once a second, as the front end does;
// returns the counts decided, one a second. `current` follows the decisions (replicas start at once here).
std::vector<int64_t> Replay(Autoscaler& a, Clock::time_point& now, int64_t& current, int seconds, int64_t inflight,
                         int64_t queued, int64_t fits = 100) {
  std::vector<int64_t> counts;
  for (int s = 0; s < seconds; ++s) {
    for (int i = 0; i < 10; ++i) {
      now += 100ms;
      a.Sample(now, inflight, queued);
    }
    current = a.Decide(now, current, fits).desired;
    counts.push_back(current);
  }
  return counts;
}

TEST(AutoscalerTest, ScalesUpAtOnceToKeepTheTargetUtilization) {
  Autoscaler a({.min_replicas = 1, .max_replicas = 10, .target_utilization = 70, .max_concurrent_per_replica = 1});
  Clock::time_point now{};
  int64_t current = 1;
  // 5 in flight and 2 queued: 7 / 0.7 = 10 replicas, in one step.
  auto counts = Replay(a, now, current, 1, 5, 2);
  EXPECT_EQ(counts.back(), 10);
  // Bounded by max.
  counts = Replay(a, now, current, 1, 50, 50);
  EXPECT_EQ(counts.back(), 10);
}

TEST(AutoscalerTest, AMaxConcurrencyAboveOneNeedsFewerReplicas) {
  Autoscaler a({.min_replicas = 1, .max_replicas = 10, .target_utilization = 50, .max_concurrent_per_replica = 4});
  Clock::time_point now{};
  int64_t current = 1;
  // 6 in flight / (4 x 50%) = 3.
  EXPECT_EQ(Replay(a, now, current, 1, 6, 0).back(), 3);
}

TEST(AutoscalerTest, ASteadyLoadDoesNotFlap) {
  Autoscaler a({.min_replicas = 1, .max_replicas = 10, .target_utilization = 70});
  Clock::time_point now{};
  int64_t current = 1;
  Replay(a, now, current, 2, 3, 0);
  auto counts = Replay(a, now, current, 120, 3, 0);
  for (int64_t c : counts) EXPECT_EQ(c, 5);  // ceil(3 / 0.7)
}

TEST(AutoscalerTest, ScalesDownOnlyAfterTheStabilizationWindow) {
  Autoscaler a({.min_replicas = 1, .max_replicas = 10, .target_utilization = 70, .stabilization = 60s});
  Clock::time_point now{};
  int64_t current = 1;
  Replay(a, now, current, 5, 6, 0);
  ASSERT_EQ(current, 9);
  // The load drops: the count holds for the window, then goes down to what the load asks for.
  auto counts = Replay(a, now, current, 90, 1, 0);
  for (int i = 0; i < 59; ++i) EXPECT_EQ(counts[i], 9) << "second " << i;
  EXPECT_EQ(counts.back(), 2);
}

TEST(AutoscalerTest, ABriefBurstCountsByItsShareOfThePeriod) {
  Autoscaler a({.min_replicas = 1, .max_replicas = 10, .target_utilization = 100});
  Clock::time_point now{};
  a.Sample(now += 100ms, 10, 0);  // one sample of 10 among ten samples of nothing
  for (int i = 0; i < 9; ++i) a.Sample(now += 100ms, 0, 0);
  EXPECT_EQ(a.Decide(now, 1, 100).desired, 1);
}

TEST(AutoscalerTest, CapacityLimitsAScaleUpAndSaysWhatWasWanted) {
  Autoscaler a({.min_replicas = 1, .max_replicas = 10, .target_utilization = 100});
  Clock::time_point now{};
  for (int i = 0; i < 10; ++i) a.Sample(now += 100ms, 8, 0);
  AutoscaleDecision d = a.Decide(now, 2, 5);
  EXPECT_EQ(d.desired, 5);
  EXPECT_EQ(d.wanted, 8);
  EXPECT_EQ(d.reason, "limited by capacity");
  // What runs is never stopped for lack of room.
  for (int i = 0; i < 10; ++i) a.Sample(now += 100ms, 8, 0);
  EXPECT_EQ(a.Decide(now, 6, 3).desired, 6);
}

TEST(AutoscalerTest, ScalesToZeroWhenIdleAndBackOnARequest) {
  Autoscaler a({.min_replicas = 0, .max_replicas = 4, .target_utilization = 70, .stabilization = 10s,
                .idle_to_zero = 300s});
  Clock::time_point now{};
  int64_t current = 1;
  Replay(a, now, current, 3, 1, 0);
  ASSERT_EQ(current, 2);
  // Idle: one replica is kept until the idle period has passed, then none.
  auto counts = Replay(a, now, current, 299, 0, 0);
  EXPECT_EQ(counts[20], 1);
  EXPECT_EQ(counts[297], 1);
  counts = Replay(a, now, current, 2, 0, 0);
  EXPECT_EQ(counts.back(), 0);
  AutoscaleDecision d = a.Decide(now += 1s, 0, 10);
  EXPECT_EQ(d.desired, 0);
  EXPECT_EQ(d.reason, "steady");
  // A request queued for the version asks for a replica at once, without waiting for the next period.
  a.Sample(now += 10ms, 0, 1);
  d = a.Decide(now, 0, 10);
  EXPECT_EQ(d.desired, 1);
  EXPECT_EQ(d.reason, "request for a version scaled to zero");
}

TEST(AutoscalerTest, ANewPolicyAppliesFromTheNextDecision) {
  Autoscaler a({.min_replicas = 1, .max_replicas = 10, .target_utilization = 70});
  Clock::time_point now{};
  int64_t current = 1;
  Replay(a, now, current, 1, 2, 0);
  ASSERT_EQ(current, 3);
  a.SetPolicy({.min_replicas = 4, .max_replicas = 6, .target_utilization = 70});
  EXPECT_EQ(Replay(a, now, current, 1, 2, 0).back(), 4);
  a.SetPolicy({.min_replicas = 1, .max_replicas = 2, .target_utilization = 70, .stabilization = 0s});
  EXPECT_EQ(Replay(a, now, current, 1, 2, 0).back(), 2);
}

}  // namespace
}  // namespace amlcore::domain
