#include "domain/scheduler.h"

#include "absl/strings/str_cat.h"

namespace amlcore::domain {

bool Fits(const Demand& demand, const Demand& free) {
  constexpr double kSlack = 1e-9;
  return demand.cpu <= free.cpu + kSlack && demand.memory_gb <= free.memory_gb + kSlack;
}

Placement Schedule(const Demand& capacity, const Demand& placed, const std::vector<WaitingVersion>& waiting) {
  Placement out;
  out.free_after = {capacity.cpu - placed.cpu, capacity.memory_gb - placed.memory_gb};
  for (const auto& w : waiting) {
    Demand available{out.free_after.cpu + w.held.cpu, out.free_after.memory_gb + w.held.memory_gb};
    if (!Fits(w.demand, available)) continue;
    out.placed.push_back(w.id);
    out.free_after = {available.cpu - w.demand.cpu, available.memory_gb - w.demand.memory_gb};
  }
  return out;
}

std::string InsufficientCapacityMessage(const Demand& request, absl::string_view cluster, const Demand& free,
                                        const Demand& capacity) {
  return absl::StrCat("Insufficient capacity: the service requests ", request.cpu, " CPU and ", request.memory_gb,
                      " GB; cluster ", cluster, " has ", free.cpu, " CPU and ", free.memory_gb, " GB free of ",
                      capacity.cpu, " CPU and ", capacity.memory_gb, " GB. It deploys when capacity frees up.");
}

}  // namespace amlcore::domain
