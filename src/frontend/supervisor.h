// Runs the replica processes of every service version on this cluster, as a kubelet would: starts the
// desired number, replaces them one by one when the revision changes (new ones ready before old ones stop),
// restarts crashed ones with back-off keeping their previous log, kills those over their memory limit
// (OOMKilled) or failing their liveness probe, and tells each version's dispatcher which replicas are ready.
// Replicas are daemons of their own: they outlive a front end restart and are adopted again.
#ifndef AMLCORE_FRONTEND_SUPERVISOR_H_
#define AMLCORE_FRONTEND_SUPERVISOR_H_

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "backend/local/local_workload.h"
#include "common/process.h"
#include "domain/workload.h"
#include "frontend/dispatcher.h"

namespace amlcore::frontend {

struct VersionTarget {
  backend::local::LocalWorkload spec;
  std::shared_ptr<VersionDispatcher> dispatcher;
};

class ReplicaSupervisor {
 public:
  explicit ReplicaSupervisor(std::string replicas_directory);
  ~ReplicaSupervisor();

  // Runs `target` (by its workload name): new replicas for a new revision replace the old ones by rolling.
  void Put(VersionTarget target);
  // Stops the replicas of a workload (after their requests in flight).
  void Remove(const std::string& workload);
  // Every workload, including those being removed until their last replica stopped.
  std::vector<domain::VersionObservation> Status() const;
  // Starts the supervision loop; replicas found running from an earlier front end are adopted.
  void Start();
  void Stop();

 private:
  struct Replica {
    std::string id;
    int64_t revision = 0;
    std::string directory;
    ProcessId process;
    uint16_t port = 0;
    std::string state = domain::ReplicaState::kWaiting;
    Clock::time_point started;
    Clock::time_point next_restart;
    Clock::time_point next_probe;
    Clock::time_point ready_since;
    int restarts = 0;
    int liveness_failures = 0;
    bool draining = false;
    bool terminating = false;
    Clock::time_point terminate_deadline;
    std::string kill_reason;  // set when the supervisor killed it
    std::string kill_message;
    std::string last_reason;
    std::string last_message;
  };
  struct VersionSet {
    VersionTarget target;
    std::vector<Replica> replicas;
    bool removed = false;  // no longer in the route table: drain and stop everything
  };

  // Lets versions take over replicas found running at start (id prefix "<workload>.r"). Call with mu_ held.
  void ClaimOrphans();
  void Loop();
  void Tick();
  void TickSet(VersionSet& set);
  void Spawn(VersionSet& set, Replica& replica);
  void OnExit(VersionSet& set, Replica& replica);
  void Kill(Replica& replica, const std::string& reason, const std::string& message);
  std::string NewReplicaId(const VersionSet& set, int64_t revision) const;

  const std::string directory_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, VersionSet> sets_;  // by workload name
  std::map<std::string, ProcessId> orphans_;  // replicas found at start, by id, until a set claims them
  bool stopping_ = false;
  std::thread loop_;
};

// The last lines of a log file (for error messages).
std::string LogTail(const std::string& path, int lines);
// Copies a directory tree by hard links (falling back to copies across file systems).
absl::Status LinkTree(const std::string& from, const std::string& to);

}  // namespace amlcore::frontend

#endif  // AMLCORE_FRONTEND_SUPERVISOR_H_
