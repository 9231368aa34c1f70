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
#include "common/http_client.h"
#include "common/json.h"

namespace amlcore::frontend {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using backend::local::kReplicaAppDirectory;
using backend::local::kReplicaInfoFile;
using backend::local::kReplicaLogFile;
using backend::local::kReplicaPreviousLogFile;
using backend::local::kReplicaStatusFile;
using domain::ReplicaState;

struct RuntimeStatus {
  std::string phase;
  uint16_t port = 0;
  std::string reason;
  std::string message;
};

std::optional<RuntimeStatus> ReadRuntimeStatus(const std::string& directory) {
  auto text = ReadFile(absl::StrCat(directory, "/", kReplicaStatusFile));
  if (!text.ok()) return std::nullopt;
  auto object = json::ParseObject(*text, kReplicaStatusFile);
  if (!object.ok()) return std::nullopt;
  return RuntimeStatus{json::GetString(*object, "phase"), static_cast<uint16_t>(json::GetInt(*object, "port")),
                       json::GetString(*object, "reason"), json::GetString(*object, "message")};
}

std::chrono::seconds Backoff(int restarts) {
  // 1, 2, 4, 8, 16, 30, 30, ... seconds.
  return std::chrono::seconds(std::min(30, 1 << std::min(restarts, 5)));
}

bool ProbeReplica(uint16_t port, std::chrono::seconds timeout) {
  http::Client client("127.0.0.1", port);
  auto response = client.Send(http::Request{.method = "GET", .target = "/"}, {.timeout = timeout});
  return response.ok() && response->status == 200;
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

ReplicaSupervisor::ReplicaSupervisor(std::string replicas_directory) : directory_(std::move(replicas_directory)) {}

ReplicaSupervisor::~ReplicaSupervisor() { Stop(); }

void ReplicaSupervisor::Start() {
  std::error_code ec;
  fs::create_directories(directory_, ec);
  {
    std::lock_guard lock(mu_);
    for (const auto& entry : fs::directory_iterator(directory_, ec)) {
      auto text = ReadFile((entry.path() / kReplicaInfoFile).string());
      if (!text.ok()) continue;
      auto object = json::ParseObject(*text, kReplicaInfoFile);
      if (!object.ok()) continue;
      ProcessId process{static_cast<pid_t>(json::GetInt(*object, "pid")),
                        static_cast<uint64_t>(json::GetInt(*object, "start_time"))};
      orphans_[entry.path().filename().string()] = process;
    }
    ClaimOrphans();
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
    v.desired = set.removed ? 0 : set.target.spec.count;
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

void ReplicaSupervisor::Loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    Tick();
    cv_.wait_for(lock, 100ms);
  }
}

void ReplicaSupervisor::Tick() {
  for (auto it = sets_.begin(); it != sets_.end();) {
    TickSet(it->second);
    if (it->second.removed && it->second.replicas.empty()) {
      it = sets_.erase(it);
    } else {
      ++it;
    }
  }
  // Replicas no route claims (their service was deleted while no front end ran) are stopped.
  for (const auto& [id, process] : orphans_) {
    (void)Terminate(process, 5s, /*whole_group=*/true);
    std::error_code ec;
    fs::remove_all(absl::StrCat(directory_, "/", id), ec);
  }
  orphans_.clear();
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

void ReplicaSupervisor::OnExit(VersionSet& set, Replica& r) {
  std::string log = absl::StrCat(r.directory, "/", kReplicaLogFile);
  std::string reason = r.kill_reason;
  std::string message = r.kill_message;
  if (reason.empty()) {
    auto status = ReadRuntimeStatus(r.directory);
    if (status && status->phase == "Failed" && !status->reason.empty()) {
      reason = status->reason;
      message = status->message;
    } else {
      reason = "Error";
      message = "The replica exited unexpectedly.";
    }
  }
  std::string tail = LogTail(log, 20);
  r.last_reason = reason;
  r.last_message = tail.empty() ? message : absl::StrCat(message, "\nLast lines of the replica's log:\n", tail);
  std::fprintf(stderr, "amlcore-fe: replica %s stopped: %s\n", r.id.c_str(), reason.c_str());
  r.process = {};
  r.port = 0;
  r.kill_reason.clear();
  r.kill_message.clear();
  r.state = ReplicaState::kWaiting;
  // A replica that served for a minute starts its back-off over.
  if (r.ready_since != Clock::time_point() && Clock::now() - r.ready_since > 60s) r.restarts = 0;
  r.next_restart = Clock::now() + Backoff(r.restarts);
  r.ready_since = {};
}

void ReplicaSupervisor::Spawn(VersionSet& set, Replica& r) {
  const backend::local::LocalWorkload& spec = set.target.spec;
  r.directory = absl::StrCat(directory_, "/", r.id);
  std::string app = absl::StrCat(r.directory, "/", kReplicaAppDirectory);
  std::error_code ec;
  fs::create_directories(r.directory, ec);
  if (!fs::exists(app)) {
    if (auto s = LinkTree(spec.bundle_directory, app); !s.ok()) {
      r.last_reason = "ReplicaSetupFailed";
      r.last_message = std::string(s.message());
      r.next_restart = Clock::now() + Backoff(++r.restarts);
      return;
    }
  }
  std::string log = absl::StrCat(r.directory, "/", kReplicaLogFile);
  if (fs::exists(log)) fs::rename(log, absl::StrCat(r.directory, "/", kReplicaPreviousLogFile), ec);
  fs::remove(absl::StrCat(r.directory, "/", kReplicaStatusFile), ec);

  std::string source = spec.source_directory.empty() ? app : absl::StrCat(app, "/", spec.source_directory);
  SpawnOptions options{
      .program = spec.program,
      .args = {"--status-file", absl::StrCat(r.directory, "/", kReplicaStatusFile), "--port", "0", "--log-file",
               log},
      .env = {{"AZUREML_ENTRY_SCRIPT", spec.entry_script},
              {"AML_APP_ROOT", app},
              {"AZUREML_SOURCE_DIRECTORY", source},
              {"AZUREML_MODEL_DIR", absl::StrCat(app, "/", spec.model_directory)},
              {"SCORING_TIMEOUT_MS", absl::StrCat(spec.scoring_timeout_ms)},
              {"AMLCORE_PYTHON", spec.python},
              {"AMLCORE_PYTHONPATH", absl::StrJoin(spec.python_path, ":")},
              {"AMLCORE_SERVICE_NAME", set.target.spec.key.endpoint},
              {"AMLCORE_REPLICA_ID", r.id}},
      .log_path = log,
      .working_directory = app,
  };
  for (const auto& [k, v] : spec.environment_variables) options.env.emplace_back(k, v);
  auto process = SpawnDaemon(options);
  r.started = Clock::now();
  r.next_probe = r.started + std::chrono::seconds(spec.liveness.initial_delay_seconds);
  r.liveness_failures = 0;
  if (!process.ok()) {
    r.last_reason = "ReplicaStartFailed";
    r.last_message = std::string(process.status().message());
    r.next_restart = Clock::now() + Backoff(++r.restarts);
    return;
  }
  r.process = *process;
  r.state = ReplicaState::kStarting;
  json::bj::object info{{"id", r.id},
                        {"revision", r.revision},
                        {"pid", static_cast<int64_t>(r.process.pid)},
                        {"start_time", static_cast<int64_t>(r.process.start_time)}};
  (void)WriteFileAtomic(absl::StrCat(r.directory, "/", kReplicaInfoFile), json::Serialize(info), 0644);
}

void ReplicaSupervisor::TickSet(VersionSet& set) {
  const backend::local::LocalWorkload& spec = set.target.spec;
  auto now = Clock::now();

  for (Replica& r : set.replicas) {
    if (r.process.pid != 0) {
      if (!IsRunning(r.process)) {
        SignalGroup(r.process.pid, SIGKILL);  // nothing it started outlives it
        if (r.terminating) {
          r.process = {};
          continue;
        }
        OnExit(set, r);
        ++r.restarts;
        continue;
      }
      if (r.terminating) {
        if (now > r.terminate_deadline && !SignalGroup(r.process.pid, SIGKILL)) kill(r.process.pid, SIGKILL);
        continue;
      }
      if (auto status = ReadRuntimeStatus(r.directory)) {
        if (status->phase == "Initializing") r.state = ReplicaState::kInitializing;
        if (status->phase == "Ready" && r.state != ReplicaState::kReady) {
          r.state = ReplicaState::kReady;
          r.port = status->port;
          r.ready_since = now;
        }
      }
      double limit = spec.memory_gb_limit;
      if (limit > 0 && GroupResidentBytes(r.process.pid) > static_cast<uint64_t>(limit * 1024 * 1024 * 1024)) {
        Kill(r, "OOMKilled", absl::StrCat("The replica and the processes it started used more than its memory limit of ",
                                          limit, " GB (memory_gb_limit)."));
        continue;
      }
      if (r.state == ReplicaState::kReady && now >= r.next_probe) {
        r.next_probe = now + std::chrono::seconds(std::max<int64_t>(1, spec.liveness.period_seconds));
        if (ProbeReplica(r.port, std::chrono::seconds(std::max<int64_t>(1, spec.liveness.timeout_seconds)))) {
          r.liveness_failures = 0;
        } else if (++r.liveness_failures >= std::max<int64_t>(1, spec.liveness.failure_threshold)) {
          Kill(r, "LivenessProbeFailed",
               absl::StrCat("GET / failed ", r.liveness_failures, " times in a row (failure_threshold ",
                            spec.liveness.failure_threshold, ")."));
        }
      }
    } else if (!r.draining && !set.removed && r.revision == spec.revision && now >= r.next_restart) {
      Spawn(set, r);
    }
  }

  // Desired count of the current revision.
  int current = 0;
  int current_ready = 0;
  for (Replica& r : set.replicas) {
    if (r.revision != spec.revision || r.draining) continue;
    if (set.removed || current >= spec.count) {
      r.draining = true;
      continue;
    }
    ++current;
    if (r.state == ReplicaState::kReady) ++current_ready;
  }
  while (!set.removed && current < spec.count) {
    Replica r;
    r.revision = spec.revision;
    r.id = NewReplicaId(set, spec.revision);
    set.replicas.push_back(std::move(r));
    Spawn(set, set.replicas.back());
    ++current;
  }
  // Older revisions give way once the new one is ready (or right away when they serve nothing).
  for (Replica& r : set.replicas) {
    if (r.revision == spec.revision || r.draining) continue;
    if (set.removed || current_ready >= spec.count || r.state != ReplicaState::kReady) r.draining = true;
  }

  std::vector<std::pair<std::string, uint16_t>> backends;
  for (const Replica& r : set.replicas) {
    if (r.state == ReplicaState::kReady && !r.draining && !r.terminating && r.process.pid != 0) {
      backends.emplace_back(r.id, r.port);
    }
  }
  set.target.dispatcher->SetBackends(backends);

  // Draining replicas stop once their last request is answered.
  for (Replica& r : set.replicas) {
    if (!r.draining || r.terminating) continue;
    if (r.process.pid != 0 && set.target.dispatcher->Inflight(r.id) > 0) continue;
    if (r.process.pid != 0) {
      if (!SignalGroup(r.process.pid, SIGTERM)) kill(r.process.pid, SIGTERM);
      r.terminating = true;
      r.terminate_deadline = now + 10s;
    } else {
      r.terminating = true;
    }
  }
  std::erase_if(set.replicas, [](const Replica& r) {
    if (!r.terminating || r.process.pid != 0) return false;
    std::error_code ec;
    fs::remove_all(r.directory, ec);
    return true;
  });
}

}  // namespace amlcore::frontend
