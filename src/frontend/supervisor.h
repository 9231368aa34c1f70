// Runs the replica processes of every service version on this cluster, as a kubelet would: starts the
// desired number, replaces them one by one when the revision changes (new ones ready before old ones stop),
// restarts crashed ones with back-off keeping their previous log, kills those over their memory limit
// (OOMKilled) or failing their liveness probe, and tells each version's dispatcher which replicas are ready.
// Replicas are daemons of their own: they outlive a front end restart and are adopted again.
//
// Its mutex guards bookkeeping only and is never held across anything slow: the loop collects what to look at
// under it, reads /proc and status files without it, decides under it again, and then starts processes,
// prepares their directories, removes old ones and sends probes without it. Probes are asynchronous (on the
// front end's upstream client), so a replica that does not answer delays neither the others' probes nor
// Status(), which the front end's admin interface calls on its I/O threads.
#ifndef AMLCORE_FRONTEND_SUPERVISOR_H_
#define AMLCORE_FRONTEND_SUPERVISOR_H_

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "backend/local/local_workload.h"
#include "common/http_upstream.h"
#include "common/prometheus.h"
#include "common/process.h"
#include "domain/workload.h"
#include "frontend/dispatcher.h"
#include "frontend/replica_runner.h"

namespace amlcore::frontend {

class ReplicaSupervisor final : public ReplicaRunner {
 public:
  // Liveness probes go through `upstream`, which must outlive the supervisor (its callbacks do not touch the
  // supervisor itself, so probes still in flight after Stop are harmless). Replicas do not see
  // `private_directory` (AMLCORE_HOME: tokens, keys, the database) beyond their own directory and what their
  // Python needs under it, where the system lets processes have a view of their own (see FilesystemView).
  ReplicaSupervisor(std::string replicas_directory, http::UpstreamClient* upstream, std::string private_directory);
  ~ReplicaSupervisor() override;

  // Runs `target` (by its workload name): new replicas for a new revision replace the old ones by rolling.
  void Put(VersionTarget target) override;
  // Stops the replicas of a workload (after their requests in flight).
  void Remove(const std::string& workload) override;
  // An autoscaled workload's replica count, as its autoscaler decided (within its minimum and the replicas it
  // is allowed), and what its load asked for. A new revision keeps the count; replicas scaled away drain first.
  void Scale(const std::string& workload, int64_t count, int64_t wanted) override;
  // The replicas a workload runs now (-1 for an unknown one).
  int64_t Desired(const std::string& workload) const override;
  // Every workload, including those being removed until their last replica stopped. Never waits for a
  // replica: it reads what the loop recorded.
  std::vector<domain::VersionObservation> Status() const override;
  // Replica restarts since the front end started, by endpoint, version and the reason the replica stopped
  // (Error, OOMKilled, LivenessProbeFailed, UserScriptInitFailed, ReplicaStartFailed, ...).
  std::map<std::vector<std::string>, uint64_t> RestartCounts() const override { return restart_counts_.Snapshot(); }
  // Starts the supervision loop; replicas found running from an earlier front end are adopted.
  void Start() override;
  void Stop() override;

 private:
  struct Replica {
    std::string id;
    int64_t revision = 0;
    std::string directory;
    ProcessId process;
    http::UpstreamAddress address;  // its Unix socket
    std::string state = domain::ReplicaState::kWaiting;
    Clock::time_point started;
    Clock::time_point next_restart;
    Clock::time_point next_probe;
    Clock::time_point ready_since;
    int restarts = 0;
    int liveness_failures = 0;
    bool spawning = false;  // the loop is starting its process, outside the lock
    bool probing = false;   // a liveness probe is in flight
    bool draining = false;
    // A routing without it has reached its dispatcher: no new request can be sent to it, so it may stop once
    // those in flight are answered.
    bool unrouted = false;
    bool terminating = false;
    Clock::time_point terminate_deadline;
    int64_t batch_max_size = 0;  // from its status: how many requests its run_batch() takes at once (0: none)
    std::string kill_reason;  // set when the supervisor killed it
    std::string kill_message;
    std::string last_reason;
    std::string last_message;
  };
  struct VersionSet {
    VersionTarget target;
    std::vector<Replica> replicas;
    bool removed = false;  // no longer in the route table: drain and stop everything
    int64_t scaled = -1;   // the autoscaler's count (-1: none yet, the spec's count)
    int64_t wanted = 0;
    // The replicas to run of the current revision.
    int64_t DesiredCount() const;
  };

  // What the loop learns about one running replica without the lock.
  struct Observation {
    std::string workload;
    std::string replica;
    ProcessId process;
    std::string directory;
    double memory_limit_gb = 0;
    bool terminating = false;
    // Filled in without the lock.
    bool running = true;
    std::string phase;  // from the replica's status file
    int64_t batch_max_size = 0;
    std::string failure_reason;   // a replica that exited: what its status file says
    std::string failure_message;
    std::string log_tail;
    uint64_t resident_bytes = 0;
  };
  // A replica process to start, prepared under the lock and started without it.
  struct SpawnJob {
    std::string workload;
    std::string replica;
    std::string directory;
    backend::local::LocalWorkload spec;
    // The outcome.
    absl::StatusOr<ProcessId> process = absl::UnknownError("not started");
    std::string failure_reason;
  };
  struct ProbeJob {
    std::string workload;
    std::string replica;
    ProcessId process;
    http::UpstreamAddress address;
    std::chrono::seconds timeout{1};
  };
  struct ProbeResult {
    std::string workload;
    std::string replica;
    ProcessId process;
    bool ok = false;
  };
  // Probe answers arrive on the upstream's threads and wait here for the loop; shared so that a late answer
  // outlives the supervisor safely.
  struct ProbeResults {
    std::mutex mu;
    std::vector<ProbeResult> results;
  };
  // What one pass decided to do outside the lock.
  struct Plan {
    std::vector<std::pair<std::shared_ptr<VersionDispatcher>, std::vector<RoutedReplica>>> routing;
    std::vector<ProbeJob> probes;
    std::vector<SpawnJob> spawns;
    std::vector<std::string> removals;  // directories of replicas that are gone
    // Draining replicas the routing above leaves out: (workload, replica id), marked unrouted once it is applied.
    std::vector<std::pair<std::string, std::string>> unrouted;
  };
  // A replica found at start that no workload claimed, being stopped.
  struct StoppingOrphan {
    std::string id;
    ProcessId process;
    Clock::time_point kill_after;  // set when SIGTERM was sent
  };

  // Lets versions take over replicas found running at start (id prefix "<workload>.r"). Call with mu_ held.
  void ClaimOrphans();
  void Loop();
  // One round: observe the replicas, apply probe results, then spawn, stop and route as planned. Takes `lock`
  // (on mu_) held and returns with it held; it is released while processes are observed or started.
  void PassLocked(std::unique_lock<std::mutex>& lock);
  std::vector<Observation> CollectObservationsLocked() const;
  static void Observe(Observation& observation);
  void ApplyObservationsLocked(const std::vector<Observation>& observations);
  void ApplyProbeResultsLocked();
  Plan PlanLocked();
  void PlanSetLocked(const std::string& name, VersionSet& set, Plan& plan);
  void Execute(Plan& plan);
  void RunSpawn(SpawnJob& job) const;
  void ApplySpawnsLocked(const std::vector<SpawnJob>& spawns);
  void StopOrphans();
  Replica* FindLocked(const std::string& workload, const std::string& replica, const ProcessId* process);
  void OnExit(Replica& replica, const Observation& observation);
  void CountRestartLocked(const std::string& workload, const std::string& reason);
  void Kill(Replica& replica, const std::string& reason, const std::string& message);
  std::string NewReplicaId(const VersionSet& set, int64_t revision) const;

  const std::string directory_;
  http::UpstreamClient* const upstream_;
  const std::string private_directory_;
  bool private_views_ = false;  // set by Start, before the loop runs: replicas get a FilesystemView
  const std::shared_ptr<ProbeResults> probe_results_ = std::make_shared<ProbeResults>();
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, VersionSet> sets_;    // by workload name
  prometheus::LabeledCounters restart_counts_;
  std::map<std::string, ProcessId> orphans_;  // replicas found at start, by id, until a set claims them
  bool stopping_ = false;
  // Touched by the loop thread only.
  std::vector<StoppingOrphan> stopping_orphans_;
  std::thread loop_;
};

// The last lines of a log file (for error messages).
std::string LogTail(const std::string& path, int lines);
// Copies a directory tree by hard links (falling back to copies across file systems).
absl::Status LinkTree(const std::string& from, const std::string& to);

}  // namespace amlcore::frontend

#endif  // AMLCORE_FRONTEND_SUPERVISOR_H_
