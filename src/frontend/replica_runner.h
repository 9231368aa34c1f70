// What runs a front end's replicas and tells each version's dispatcher which of them are ready: processes on
// this machine (ReplicaSupervisor), or the pods of a Kubernetes namespace (KubernetesReplicas).
#ifndef AMLCORE_FRONTEND_REPLICA_RUNNER_H_
#define AMLCORE_FRONTEND_REPLICA_RUNNER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backend/local/local_workload.h"
#include "domain/workload.h"
#include "frontend/dispatcher.h"

namespace amlcore::frontend {

struct VersionTarget {
  backend::local::LocalWorkload spec;
  std::shared_ptr<VersionDispatcher> dispatcher;
};

class ReplicaRunner {
 public:
  virtual ~ReplicaRunner() = default;
  // Runs `target` (by its workload name): new replicas for a new revision replace the old ones by rolling.
  virtual void Put(VersionTarget target) = 0;
  // Stops the replicas of a workload (after their requests in flight).
  virtual void Remove(const std::string& workload) = 0;
  // An autoscaled workload's replica count, as its autoscaler decided, and what its load asked for.
  virtual void Scale(const std::string& workload, int64_t count, int64_t wanted) = 0;
  // The replicas a workload runs now (-1 for an unknown one).
  virtual int64_t Desired(const std::string& workload) const = 0;
  // Every workload, including those being removed until their last replica stopped. Never waits.
  virtual std::vector<domain::VersionObservation> Status() const = 0;
  // Replica restarts by endpoint, version and the reason the replica stopped.
  virtual std::map<std::vector<std::string>, uint64_t> RestartCounts() const = 0;
  virtual void Start() = 0;
  virtual void Stop() = 0;
};

}  // namespace amlcore::frontend

#endif  // AMLCORE_FRONTEND_REPLICA_RUNNER_H_
