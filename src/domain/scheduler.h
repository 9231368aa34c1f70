// Placement of versions on a cluster's capacity: a pure function, so every decision can be tested alone and
// recomputed from the stored state at any time.
//
// A cluster has a capacity (agents x VM size). Versions already placed hold their demand (replicas x requests).
// Waiting versions are considered in the order they asked, and each one that fits in what is left is placed;
// one that does not fit waits without blocking smaller ones behind it.
#ifndef AMLCORE_DOMAIN_SCHEDULER_H_
#define AMLCORE_DOMAIN_SCHEDULER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace amlcore::domain {

struct Demand {
  double cpu = 0;
  double memory_gb = 0;

  Demand& operator+=(const Demand& other) {
    cpu += other.cpu;
    memory_gb += other.memory_gb;
    return *this;
  }
};

struct WaitingVersion {
  int64_t id = 0;  // the caller's identifier of the version
  Demand demand;
  Demand held;     // what the version holds now (its running revision, while an update waits), freed when placed
};

struct Placement {
  std::vector<int64_t> placed;  // ids of waiting versions that fit, in order
  Demand free_after;            // capacity left once they are placed
};

// `placed` is what versions already on the cluster hold, including what waiting versions hold; `waiting` is in
// the order the versions asked.
Placement Schedule(const Demand& capacity, const Demand& placed, const std::vector<WaitingVersion>& waiting);

// Whether `demand` fits in `free` (with a little slack for sums of fractions like 0.1 + 0.2).
bool Fits(const Demand& demand, const Demand& free);

// "Insufficient capacity: the service requests 2 CPU and 1 GB; cluster x has 1 CPU and 13 GB free of 4 CPU and
// 14 GB. It deploys when capacity frees up."
std::string InsufficientCapacityMessage(const Demand& request, absl::string_view cluster, const Demand& free,
                                        const Demand& capacity);

}  // namespace amlcore::domain

#endif  // AMLCORE_DOMAIN_SCHEDULER_H_
