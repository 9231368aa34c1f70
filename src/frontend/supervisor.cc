#include "frontend/supervisor.h"

#include <signal.h>

#include <algorithm>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "backend/local/layout.h"
#include "common/files.h"
#include "common/json.h"
#include "common/log.h"

extern char** environ;

namespace amlcore::frontend {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using backend::local::kReplicaAppDirectory;
using backend::local::kReplicaInfoFile;
using backend::local::kReplicaLogFile;
using backend::local::kReplicaPreviousLogFile;
using backend::local::kReplicaSocketFile;
using backend::local::kReplicaStatusFile;
using domain::ReplicaState;

struct RuntimeStatus {
  std::string phase;
  std::string reason;
  std::string message;
  int64_t batch_max_size = 0;  // a ready replica whose score.py has run_batch(): its BATCH_MAX_SIZE
};

std::optional<RuntimeStatus> ReadRuntimeStatus(const std::string& directory) {
  auto text = ReadFile(absl::StrCat(directory, "/", kReplicaStatusFile));
  if (!text.ok()) return std::nullopt;
  auto object = json::ParseObject(*text, kReplicaStatusFile);
  if (!object.ok()) return std::nullopt;
  return RuntimeStatus{json::GetString(*object, "phase"), json::GetString(*object, "reason"),
                       json::GetString(*object, "message"), json::GetInt(*object, "batch_max_size")};
}

std::chrono::seconds Backoff(int restarts) {
  // 1, 2, 4, 8, 16, 30, 30, ... seconds.
  return std::chrono::seconds(std::min(30, 1 << std::min(restarts, 5)));
}

}  // namespace

std::string LogTail(const std::string& path, int lines) {
  return ReadLastLines(path, lines, 64 * 1024).value_or("");
}

absl::Status LinkTree(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::create_directories(to, ec);
  if (ec) return absl::InternalError(absl::StrCat("Cannot create ", to, ": ", ec.message()));
  for (auto it = fs::recursive_directory_iterator(from, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    fs::path target = fs::path(to) / fs::relative(it->path(), from);
    if (it->is_directory()) {
      fs::create_directories(target, ec);
    } else {
      fs::create_hard_link(it->path(), target, ec);
      if (ec) {
        ec.clear();
        fs::copy_file(it->path(), target, fs::copy_options::overwrite_existing, ec);
      }
    }
    if (ec) return absl::InternalError(absl::StrCat("Cannot prepare ", target.string(), ": ", ec.message()));
  }
  if (ec) return absl::InternalError(absl::StrCat("Cannot read ", from, ": ", ec.message()));
  return absl::OkStatus();
}

ReplicaSupervisor::ReplicaSupervisor(std::string replicas_directory, http::UpstreamClient* upstream,
                                     std::string private_directory)
    : directory_(std::move(replicas_directory)),
      upstream_(upstream),
      private_directory_(std::move(private_directory)) {}

ReplicaSupervisor::~ReplicaSupervisor() { Stop(); }

void ReplicaSupervisor::Start() {
  std::error_code ec;
  fs::create_directories(directory_, ec);
  if (!private_directory_.empty()) {
    if (absl::Status available = CheckFilesystemView(private_directory_); available.ok()) {
      private_views_ = true;
      logging::Info(absl::StrCat("replicas see only their own directories of ", private_directory_));
    } else {
      logging::Warning(absl::StrCat("replicas run without a private view of the file system (", available.message(),
                                    "); their scripts can read everything under ", private_directory_,
                                    ", including admin tokens and other services' keys"));
    }
  }
  std::map<std::string, ProcessId> found;
  for (const auto& entry : fs::directory_iterator(directory_, ec)) {
    auto text = ReadFile((entry.path() / kReplicaInfoFile).string());
    if (!text.ok()) continue;
    auto object = json::ParseObject(*text, kReplicaInfoFile);
    if (!object.ok()) continue;
    found[entry.path().filename().string()] = ProcessId{static_cast<pid_t>(json::GetInt(*object, "pid")),
                                                        static_cast<uint64_t>(json::GetInt(*object, "start_time"))};
  }
  {
    std::unique_lock lock(mu_);
    orphans_ = std::move(found);
    ClaimOrphans();
    // A first round before the front end serves anything: replicas it adopts that are ready get their routes
    // now, so that no request meets a version without replicas while they run.
    PassLocked(lock);
  }
  loop_ = std::thread([this] { Loop(); });
}

void ReplicaSupervisor::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    cv_.notify_all();
  }
  if (loop_.joinable()) loop_.join();
}

void ReplicaSupervisor::Put(VersionTarget target) {
  std::lock_guard lock(mu_);
  std::string name = target.spec.key.Name();
  auto it = sets_.find(name);
  if (it == sets_.end()) {
    VersionSet set;
    set.target = std::move(target);
    sets_.emplace(name, std::move(set));
  } else {
    it->second.removed = false;
    it->second.target = std::move(target);
  }
  ClaimOrphans();
  cv_.notify_all();
}

int64_t ReplicaSupervisor::VersionSet::DesiredCount() const {
  const backend::local::LocalWorkload& spec = target.spec;
  if (removed) return 0;
  if (!spec.autoscale || scaled < 0) return spec.count;
  int64_t low = std::max<int64_t>(0, spec.autoscale->min_replicas);
  return std::clamp(scaled, low, std::max({low, spec.count, spec.allowed}));
}

void ReplicaSupervisor::Scale(const std::string& workload, int64_t count, int64_t wanted) {
  std::lock_guard lock(mu_);
  auto it = sets_.find(workload);
  if (it == sets_.end() || !it->second.target.spec.autoscale) return;
  it->second.scaled = count;
  it->second.wanted = wanted;
  cv_.notify_all();
}

int64_t ReplicaSupervisor::Desired(const std::string& workload) const {
  std::lock_guard lock(mu_);
  auto it = sets_.find(workload);
  return it == sets_.end() ? -1 : it->second.DesiredCount();
}

void ReplicaSupervisor::Remove(const std::string& workload) {
  std::lock_guard lock(mu_);
  if (auto it = sets_.find(workload); it != sets_.end()) it->second.removed = true;
  cv_.notify_all();
}

void ReplicaSupervisor::ClaimOrphans() {
  for (auto& [key, set] : sets_) {
    std::string prefix = absl::StrCat(set.target.spec.key.Name(), ".r");
    for (auto orphan = orphans_.begin(); orphan != orphans_.end();) {
      if (!absl::StartsWith(orphan->first, prefix)) {
        ++orphan;
        continue;
      }
      Replica r;
      r.id = orphan->first;
      r.directory = absl::StrCat(directory_, "/", r.id);
      r.address = http::UpstreamAddress::Unix(absl::StrCat(r.directory, "/", kReplicaSocketFile));
      absl::string_view rest = absl::string_view(r.id).substr(prefix.size());
      (void)absl::SimpleAtoi(rest.substr(0, rest.find('.')), &r.revision);
      r.process = orphan->second;
      r.started = Clock::now();
      r.next_probe = r.started + std::chrono::seconds(set.target.spec.liveness.period_seconds);
      r.state = IsRunning(r.process) ? ReplicaState::kStarting : ReplicaState::kWaiting;
      if (r.state == ReplicaState::kWaiting) r.process = {};
      set.replicas.push_back(std::move(r));
      orphan = orphans_.erase(orphan);
    }
  }
}

std::vector<domain::VersionObservation> ReplicaSupervisor::Status() const {
  std::lock_guard lock(mu_);
  std::vector<domain::VersionObservation> out;
  for (const auto& [name, set] : sets_) {
    // A removed version is listed until its last replica has stopped.
    domain::VersionObservation v;
    v.key = set.target.spec.key;
    v.revision = set.target.spec.revision;
    v.desired = set.DesiredCount();
    v.removed = set.removed;
    v.wanted = set.target.spec.autoscale && set.scaled >= 0 ? set.wanted : v.desired;
    // Scaled above its minimum, a version is healthy with its minimum ready: the rest are on their way.
    v.required = set.target.spec.autoscale ? std::min(v.desired, std::max<int64_t>(1, set.target.spec.autoscale->min_replicas))
                                           : v.desired;
    for (const auto& r : set.replicas) {
      if (r.revision == v.revision && r.state == ReplicaState::kReady && !r.draining) ++v.ready;
      v.replicas.push_back(domain::ReplicaObservation{r.id, r.revision,
                                                      r.terminating ? ReplicaState::kTerminating : r.state,
                                                      r.restarts, r.last_reason, r.last_message});
    }
    out.push_back(std::move(v));
  }
  return out;
}

// One pass: look (without the lock), decide (with it), act (without it), record what was started (with it).
void ReplicaSupervisor::Loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    PassLocked(lock);
    if (stopping_) break;
    cv_.wait_for(lock, 100ms);
  }
}

void ReplicaSupervisor::PassLocked(std::unique_lock<std::mutex>& lock) {
  std::vector<Observation> observations = CollectObservationsLocked();
  lock.unlock();
  for (Observation& o : observations) Observe(o);
  lock.lock();
  ApplyObservationsLocked(observations);
  ApplyProbeResultsLocked();
  Plan plan = PlanLocked();
  lock.unlock();
  Execute(plan);
  lock.lock();
  for (const auto& [workload, replica] : plan.unrouted) {
    if (Replica* r = FindLocked(workload, replica, nullptr)) r->unrouted = true;
  }
  ApplySpawnsLocked(plan.spawns);
}

ReplicaSupervisor::Replica* ReplicaSupervisor::FindLocked(const std::string& workload, const std::string& replica,
                                                          const ProcessId* process) {
  auto set = sets_.find(workload);
  if (set == sets_.end()) return nullptr;
  for (Replica& r : set->second.replicas) {
    if (r.id != replica) continue;
    // A result about an earlier process of this replica says nothing about the current one.
    if (process != nullptr && (r.process.pid != process->pid || r.process.start_time != process->start_time)) {
      return nullptr;
    }
    return &r;
  }
  return nullptr;
}

std::vector<ReplicaSupervisor::Observation> ReplicaSupervisor::CollectObservationsLocked() const {
  std::vector<Observation> out;
  for (const auto& [name, set] : sets_) {
    for (const Replica& r : set.replicas) {
      if (r.process.pid == 0 || r.spawning) continue;
      Observation o;
      o.workload = name;
      o.replica = r.id;
      o.process = r.process;
      o.directory = r.directory;
      o.memory_limit_gb = set.target.spec.memory_gb_limit;
      o.terminating = r.terminating;
      out.push_back(std::move(o));
    }
  }
  return out;
}

void ReplicaSupervisor::Observe(Observation& o) {
  o.running = IsRunning(o.process);
  if (!o.running) {
    SignalGroup(o.process.pid, SIGKILL);  // nothing it started outlives it
    if (o.terminating) return;
    if (auto status = ReadRuntimeStatus(o.directory); status && status->phase == "Failed") {
      o.failure_reason = status->reason;
      o.failure_message = status->message;
    }
    o.log_tail = LogTail(absl::StrCat(o.directory, "/", kReplicaLogFile), 20);
    return;
  }
  if (o.terminating) return;
  if (auto status = ReadRuntimeStatus(o.directory)) {
    o.phase = status->phase;
    o.batch_max_size = status->batch_max_size;
  }
  if (o.memory_limit_gb > 0) o.resident_bytes = GroupResidentBytes(o.process.pid);
}

void ReplicaSupervisor::ApplyObservationsLocked(const std::vector<Observation>& observations) {
  auto now = Clock::now();
  for (const Observation& o : observations) {
    Replica* r = FindLocked(o.workload, o.replica, &o.process);
    if (r == nullptr) continue;
    if (!o.running) {
      if (r->terminating) {
        r->process = {};
        continue;
      }
      OnExit(*r, o);
      ++r->restarts;
      CountRestartLocked(o.workload, r->last_reason);
      continue;
    }
    if (r->terminating) {
      if (now > r->terminate_deadline && !SignalGroup(r->process.pid, SIGKILL)) kill(r->process.pid, SIGKILL);
      continue;
    }
    if (o.phase == "Initializing") r->state = ReplicaState::kInitializing;
    if (o.phase == "Ready" && r->state != ReplicaState::kReady) {
      r->state = ReplicaState::kReady;
      r->ready_since = now;
    }
    r->batch_max_size = o.batch_max_size;
    double limit = o.memory_limit_gb;
    if (limit > 0 && o.resident_bytes > static_cast<uint64_t>(limit * 1024 * 1024 * 1024)) {
      Kill(*r, "OOMKilled", absl::StrCat("The replica and the processes it started used more than its memory limit of ",
                                         limit, " GB (memory_gb_limit)."));
    }
  }
}

void ReplicaSupervisor::ApplyProbeResultsLocked() {
  std::vector<ProbeResult> results;
  {
    std::lock_guard lock(probe_results_->mu);
    results.swap(probe_results_->results);
  }
  for (const ProbeResult& result : results) {
    Replica* r = FindLocked(result.workload, result.replica, &result.process);
    if (r == nullptr) continue;
    r->probing = false;
    const domain::ProbeSpec& liveness = sets_[result.workload].target.spec.liveness;
    if (result.ok) {
      r->liveness_failures = 0;
    } else if (++r->liveness_failures >= std::max<int64_t>(1, liveness.failure_threshold) && !r->terminating) {
      Kill(*r, "LivenessProbeFailed",
           absl::StrCat("GET / failed ", r->liveness_failures, " times in a row (failure_threshold ",
                        liveness.failure_threshold, ")."));
    }
  }
}

std::string ReplicaSupervisor::NewReplicaId(const VersionSet& set, int64_t revision) const {
  for (int n = 0;; ++n) {
    std::string id = absl::StrCat(set.target.spec.key.Name(), ".r", revision, ".", n);
    bool used = std::any_of(set.replicas.begin(), set.replicas.end(), [&](const Replica& r) { return r.id == id; });
    if (!used) return id;
  }
}

void ReplicaSupervisor::Kill(Replica& r, const std::string& reason, const std::string& message) {
  r.kill_reason = reason;
  r.kill_message = message;
  // The replica's group holds whatever it started; a replica from an older front end leads none.
  if (r.process.pid > 0 && !SignalGroup(r.process.pid, SIGKILL)) kill(r.process.pid, SIGKILL);
}

void ReplicaSupervisor::CountRestartLocked(const std::string& workload, const std::string& reason) {
  auto set = sets_.find(workload);
  if (set == sets_.end()) return;
  const domain::WorkloadKey& key = set->second.target.spec.key;
  restart_counts_.Add({key.endpoint, key.version, reason});
}

void ReplicaSupervisor::OnExit(Replica& r, const Observation& o) {
  std::string reason = r.kill_reason;
  std::string message = r.kill_message;
  if (reason.empty()) {
    if (!o.failure_reason.empty()) {
      reason = o.failure_reason;
      message = o.failure_message;
    } else {
      reason = "Error";
      message = "The replica exited unexpectedly.";
    }
  }
  r.last_reason = reason;
  r.last_message =
      o.log_tail.empty() ? message : absl::StrCat(message, "\nLast lines of the replica's log:\n", o.log_tail);
  logging::Warning(absl::StrCat("replica ", r.id, " stopped: ", reason));
  r.process = {};
  r.probing = false;
  r.kill_reason.clear();
  r.kill_message.clear();
  r.state = ReplicaState::kWaiting;
  // A replica that served for a minute starts its back-off over.
  if (r.ready_since != Clock::time_point() && Clock::now() - r.ready_since > 60s) r.restarts = 0;
  r.next_restart = Clock::now() + Backoff(r.restarts);
  r.ready_since = {};
}

ReplicaSupervisor::Plan ReplicaSupervisor::PlanLocked() {
  Plan plan;
  for (auto it = sets_.begin(); it != sets_.end();) {
    PlanSetLocked(it->first, it->second, plan);
    if (it->second.removed && it->second.replicas.empty()) {
      it = sets_.erase(it);
    } else {
      ++it;
    }
  }
  // Replicas no route claims (their service was deleted while no front end ran) are stopped by StopOrphans.
  for (const auto& [id, process] : orphans_) stopping_orphans_.push_back(StoppingOrphan{id, process});
  orphans_.clear();
  return plan;
}

void ReplicaSupervisor::PlanSetLocked(const std::string& name, VersionSet& set, Plan& plan) {
  const backend::local::LocalWorkload& spec = set.target.spec;
  auto now = Clock::now();
  auto start = [&](Replica& r) {
    r.spawning = true;
    r.directory = absl::StrCat(directory_, "/", r.id);
    r.address = http::UpstreamAddress::Unix(absl::StrCat(r.directory, "/", kReplicaSocketFile));
    plan.spawns.push_back(SpawnJob{.workload = name, .replica = r.id, .directory = r.directory, .spec = spec});
  };

  for (Replica& r : set.replicas) {
    if (r.spawning) continue;
    if (r.process.pid == 0) {
      if (!r.draining && !set.removed && r.revision == spec.revision && now >= r.next_restart) start(r);
      continue;
    }
    if (!r.terminating && r.state == ReplicaState::kReady && !r.probing && now >= r.next_probe) {
      r.next_probe = now + std::chrono::seconds(std::max<int64_t>(1, spec.liveness.period_seconds));
      r.probing = true;
      plan.probes.push_back(ProbeJob{name, r.id, r.process, r.address,
                                     std::chrono::seconds(std::max<int64_t>(1, spec.liveness.timeout_seconds))});
    }
  }

  // Desired count of the current revision.
  const int64_t desired = set.DesiredCount();
  int current = 0;
  int current_ready = 0;
  for (Replica& r : set.replicas) {
    if (r.revision != spec.revision || r.draining) continue;
    if (set.removed || current >= desired) {
      r.draining = true;
      continue;
    }
    ++current;
    if (r.state == ReplicaState::kReady) ++current_ready;
  }
  while (!set.removed && current < desired) {
    Replica r;
    r.revision = spec.revision;
    r.id = NewReplicaId(set, spec.revision);
    set.replicas.push_back(std::move(r));
    start(set.replicas.back());
    ++current;
  }
  // Older revisions give way once the new one is ready (or right away when they serve nothing).
  for (Replica& r : set.replicas) {
    if (r.revision == spec.revision || r.draining) continue;
    if (set.removed || current_ready >= desired || r.state != ReplicaState::kReady) r.draining = true;
  }

  std::vector<RoutedReplica> backends;
  for (const Replica& r : set.replicas) {
    if (r.state == ReplicaState::kReady && !r.draining && !r.terminating && r.process.pid != 0) {
      backends.push_back(RoutedReplica{r.id, r.address, static_cast<int>(r.batch_max_size)});
    } else if (r.draining && !r.unrouted) {
      plan.unrouted.emplace_back(name, r.id);
    }
  }
  plan.routing.emplace_back(set.target.dispatcher, std::move(backends));

  // Draining replicas stop once their last request is answered (one being started stops once it runs). The
  // routing that leaves them out goes to the dispatcher after this pass: until it has, requests may still
  // arrive, so a running replica stops in a later pass, never in the one that decided to drain it.
  for (Replica& r : set.replicas) {
    if (!r.draining || r.terminating || r.spawning) continue;
    if (r.process.pid != 0 && (!r.unrouted || set.target.dispatcher->Inflight(r.id) > 0)) continue;
    if (r.process.pid != 0) {
      if (!SignalGroup(r.process.pid, SIGTERM)) kill(r.process.pid, SIGTERM);
      r.terminating = true;
      r.terminate_deadline = now + 10s;
    } else {
      r.terminating = true;
    }
  }
  std::erase_if(set.replicas, [&](const Replica& r) {
    if (!r.terminating || r.process.pid != 0 || r.spawning) return false;
    if (!r.directory.empty()) plan.removals.push_back(r.directory);
    return true;
  });
}

void ReplicaSupervisor::Execute(Plan& plan) {
  // The routing of a set removed in this pass goes out too: its dispatcher then routes to nothing.
  for (auto& [dispatcher, backends] : plan.routing) dispatcher->SetBackends(backends);
  for (const ProbeJob& probe : plan.probes) {
    upstream_->Send(probe.address, http::Request{.method = "GET", .target = "/"},
                    std::chrono::duration_cast<std::chrono::milliseconds>(probe.timeout),
                    [results = probe_results_, probe](absl::StatusOr<http::Response> response) {
                      std::lock_guard lock(results->mu);
                      results->results.push_back(ProbeResult{probe.workload, probe.replica, probe.process,
                                                              response.ok() && response->status == 200});
                    });
  }
  for (SpawnJob& job : plan.spawns) RunSpawn(job);
  for (const std::string& directory : plan.removals) {
    std::error_code ec;
    fs::remove_all(directory, ec);
  }
  StopOrphans();
}

// SIGTERM first, SIGKILL after a grace period, the directory once the process is gone; a pass at a time.
void ReplicaSupervisor::StopOrphans() {
  auto now = Clock::now();
  std::erase_if(stopping_orphans_, [&](StoppingOrphan& orphan) {
    if (IsRunning(orphan.process)) {
      if (orphan.kill_after == Clock::time_point()) {
        orphan.kill_after = now + 5s;
        if (!SignalGroup(orphan.process.pid, SIGTERM)) kill(orphan.process.pid, SIGTERM);
        return false;
      }
      if (now > orphan.kill_after && !SignalGroup(orphan.process.pid, SIGKILL)) kill(orphan.process.pid, SIGKILL);
      return false;
    }
    // What it started and left behind goes with it (a group that was ours: we signalled it running).
    if (orphan.kill_after != Clock::time_point()) SignalGroup(orphan.process.pid, SIGKILL);
    std::error_code ec;
    fs::remove_all(absl::StrCat(directory_, "/", orphan.id), ec);
    return true;
  });
}

void ReplicaSupervisor::RunSpawn(SpawnJob& job) const {
  const backend::local::LocalWorkload& spec = job.spec;
  std::string app = absl::StrCat(job.directory, "/", kReplicaAppDirectory);
  std::error_code ec;
  // Private: it holds the replica's socket, which must be reachable through the front end only.
  fs::create_directories(job.directory, ec);
  fs::permissions(job.directory, fs::perms::owner_all, ec);
  if (!fs::exists(app)) {
    if (auto s = LinkTree(spec.bundle_directory, app); !s.ok()) {
      job.process = s;
      job.failure_reason = "ReplicaSetupFailed";
      return;
    }
  }
  std::string log = absl::StrCat(job.directory, "/", kReplicaLogFile);
  if (fs::exists(log)) fs::rename(log, absl::StrCat(job.directory, "/", kReplicaPreviousLogFile), ec);
  fs::remove(absl::StrCat(job.directory, "/", kReplicaStatusFile), ec);
  std::string socket = absl::StrCat(job.directory, "/", kReplicaSocketFile);
  fs::remove(socket, ec);

  std::string source = spec.source_directory.empty() ? app : absl::StrCat(app, "/", spec.source_directory);
  SpawnOptions options{
      .program = spec.program,
      .args = {"--status-file", absl::StrCat(job.directory, "/", kReplicaStatusFile), "--socket", socket,
               "--log-file", log},
      .env = {{"AZUREML_ENTRY_SCRIPT", spec.entry_script},
              {"AML_APP_ROOT", app},
              {"AZUREML_SOURCE_DIRECTORY", source},
              {"AZUREML_MODEL_DIR", absl::StrCat(app, "/", spec.model_directory)},
              {"SCORING_TIMEOUT_MS", absl::StrCat(spec.scoring_timeout_ms)},
              {"AMLCORE_PYTHON", spec.python},
              {"AMLCORE_PYTHONPATH", absl::StrJoin(spec.python_path, ":")},
              {"AMLCORE_SERVICE_NAME", spec.key.endpoint},
              {"AMLCORE_REPLICA_ID", job.replica}},
      .log_path = log,
      .working_directory = app,
  };
  // What the environment substituted, for the replica's log to start with (only when there is something).
  if (!spec.environment_warnings.empty()) {
    options.env.emplace_back("AMLCORE_ENVIRONMENT_WARNINGS", absl::StrJoin(spec.environment_warnings, "\n"));
  }
  for (const auto& [k, v] : spec.environment_variables) options.env.emplace_back(k, v);
  // amlcore's own settings stay with amlcore (AMLCORE_TOKEN is an admin token), but for those set above.
  for (char** e = environ; *e != nullptr; ++e) {
    absl::string_view name = absl::string_view(*e).substr(0, absl::string_view(*e).find('='));
    bool ours = std::any_of(options.env.begin(), options.env.end(), [&](const auto& kv) { return kv.first == name; });
    if (absl::StartsWith(name, "AMLCORE_") && !ours) options.unset_env.emplace_back(name);
  }
  if (private_views_) {
    // Its own directory (app, log, status, socket), and read-only what its Python needs from the home: amlcore's
    // modules and the environment's interpreter (a virtual environment: its bin/ and its parent).
    FilesystemView view{.hidden = private_directory_, .writable = {job.directory}};
    view.readable = spec.python_path;
    if (!spec.python.empty()) view.readable.push_back(fs::path(spec.python).parent_path().parent_path().string());
    view.readable.push_back(fs::path(spec.program).parent_path().string());
    std::erase_if(view.readable, [&](const std::string& path) {
      return !absl::StartsWith(path, absl::StrCat(private_directory_, "/")) || !fs::is_directory(path);
    });
    options.view = std::move(view);
  }
  job.process = SpawnDaemon(options);
  if (!job.process.ok()) {
    job.failure_reason = "ReplicaStartFailed";
    return;
  }
  json::bj::object info{{"id", job.replica},
                        {"revision", spec.revision},
                        {"pid", static_cast<int64_t>(job.process->pid)},
                        {"start_time", static_cast<int64_t>(job.process->start_time)}};
  (void)WriteFileAtomic(absl::StrCat(job.directory, "/", kReplicaInfoFile), json::Serialize(info), 0644);
}

void ReplicaSupervisor::ApplySpawnsLocked(const std::vector<SpawnJob>& spawns) {
  auto now = Clock::now();
  for (const SpawnJob& job : spawns) {
    Replica* r = FindLocked(job.workload, job.replica, nullptr);
    if (r == nullptr) continue;
    r->spawning = false;
    r->started = now;
    r->next_probe = now + std::chrono::seconds(job.spec.liveness.initial_delay_seconds);
    r->liveness_failures = 0;
    if (!job.process.ok()) {
      r->last_reason = job.failure_reason;
      r->last_message = std::string(job.process.status().message());
      r->next_restart = now + Backoff(++r->restarts);
      CountRestartLocked(job.workload, r->last_reason);
      continue;
    }
    r->process = *job.process;
    r->state = ReplicaState::kStarting;
  }
}

}  // namespace amlcore::frontend
