#include "backend/local/local_backend.h"

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "backend/local/environment_builder.h"
#include "backend/local/layout.h"
#include "backend/local/local_workload.h"
#include "common/crypto.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/http_client.h"
#include "common/json.h"
#include "common/json_fields.h"
#include "common/tar.h"

namespace amlcore::backend::local {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// How long a front end may take to answer after it was started, or stay silent once it ran, before it is
// replaced; how long a process gets between SIGTERM and SIGKILL.
constexpr auto kStartGrace = 15s;
constexpr auto kUnresponsiveGrace = 5s;
constexpr auto kStopGrace = 10s;
constexpr auto kAdminTimeout = 5s;

struct FrontEndInfo {
  int64_t pid = 0;
  int64_t start_time = 0;
  int64_t port = 0;
};
constexpr auto JsonFields(const FrontEndInfo*) {
  return json::Fields(json::Field("pid", &FrontEndInfo::pid), json::Field("start_time", &FrontEndInfo::start_time),
                      json::Field("port", &FrontEndInfo::port));
}

struct ReplicaInfo {
  std::string id;
  int64_t pid = 0;
  int64_t start_time = 0;
};
constexpr auto JsonFields(const ReplicaInfo*) {
  return json::Fields(json::Field("id", &ReplicaInfo::id), json::Field("pid", &ReplicaInfo::pid),
                      json::Field("start_time", &ReplicaInfo::start_time));
}

template <class T>
std::optional<T> ReadJsonFile(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return std::nullopt;
  auto value = json::DecodeText<T>(*text, path);
  if (!value.ok()) return std::nullopt;
  return std::move(*value);
}

ProcessId ProcessOf(int64_t pid, int64_t start_time) {
  return ProcessId{static_cast<pid_t>(pid), static_cast<uint64_t>(start_time)};
}

std::optional<FrontEndInfo> RunningFrontEnd(const std::string& directory) {
  if (!FileLock::IsHeld(absl::StrCat(directory, "/", kFrontEndLockFile))) return std::nullopt;
  auto info = ReadJsonFile<FrontEndInfo>(absl::StrCat(directory, "/", kFrontEndInfoFile));
  if (!info || !IsRunning(ProcessOf(info->pid, info->start_time))) return std::nullopt;
  return info;
}

// What a replica reports of itself (amlcore-score's status file).
struct ReplicaRuntimeStatus {
  std::string phase;
  std::string socket;
};
constexpr auto JsonFields(const ReplicaRuntimeStatus*) {
  return json::Fields(json::Field("phase", &ReplicaRuntimeStatus::phase),
                      json::Field("socket", &ReplicaRuntimeStatus::socket));
}

std::vector<std::pair<std::string, ProcessId>> RunningReplicas(const std::string& cluster_directory) {
  std::vector<std::pair<std::string, ProcessId>> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(ReplicasDirectory(cluster_directory), ec)) {
    auto info = ReadJsonFile<ReplicaInfo>((entry.path() / kReplicaInfoFile).string());
    if (!info) continue;
    ProcessId process = ProcessOf(info->pid, info->start_time);
    if (IsRunning(process)) out.emplace_back(entry.path().filename().string(), process);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

// The last `lines` lines of a file (with a final newline), read from its end.
std::string TailOfFile(const std::string& path, int64_t lines, int64_t max_bytes) {
  auto text = ReadLastLines(path, static_cast<int>(std::min<int64_t>(lines, 1 << 30)), static_cast<size_t>(max_bytes));
  if (!text.ok() || text->empty()) return "";
  return absl::StrCat(*text, "\n");
}

// The first lines of a file up to and including the replica's "ready" line.
std::string StartupOfFile(const std::string& path, int64_t lines, int64_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::string out;
  std::string line;
  int64_t count = 0;
  while (count < lines && static_cast<int64_t>(out.size()) < max_bytes && std::getline(in, line)) {
    absl::StrAppend(&out, line, "\n");
    ++count;
    if (absl::StrContains(line, "amlcore-score: ready on")) break;
  }
  return out;
}

bool NonEmptyFile(const std::string& path) {
  std::error_code ec;
  return fs::file_size(path, ec) > 0 && !ec;
}

// Makes every file under `directory` read-only, and the directories unwritable, so replicas cannot change what
// they share.
void MakeReadOnly(const std::string& directory) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(directory, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    fs::permissions(it->path(), it->is_directory() ? fs::perms(0555) : fs::perms(0444), ec);
  }
  fs::permissions(directory, fs::perms(0555), ec);
}

void RemoveTree(const std::string& directory) {
  std::error_code ec;
  // Read-only directories must be made writable again before their entries can go.
  for (auto it = fs::recursive_directory_iterator(directory, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_directory()) fs::permissions(it->path(), fs::perms(0700), ec);
  }
  fs::permissions(directory, fs::perms(0700), ec);
  fs::remove_all(directory, ec);
}

std::string WorkloadBundles(const std::string& home, const domain::WorkloadKey& key) {
  return absl::StrCat(BundlesDirectory(home), "/", key.Name());
}
}  // namespace

// Environment builds in progress or done, by hash. Builds run on threads of their own; the state outlives the
// backend (a build thread still running at shutdown finishes into it).
struct LocalBackend::Builds {
  std::mutex mu;
  std::map<std::string, EnvironmentBuild> by_hash;
  std::shared_ptr<EnvironmentBuilder> builder;
};

LocalBackend::LocalBackend(LocalBackendOptions options)
    : options_(std::move(options)), builds_(std::make_shared<Builds>()) {
  builds_->builder =
      std::make_shared<EnvironmentBuilder>(options_.home, options_.runtime_python, options_.offline_environments);
}

LocalBackend::~LocalBackend() = default;

absl::StatusOr<LocalBackend::Address> LocalBackend::FrontEndAddress(const ClusterRef& cluster) const {
  std::string directory = ClusterDirectory(options_.home, cluster.id);
  auto info = RunningFrontEnd(directory);
  if (!info) {
    return absl::UnavailableError(absl::StrCat("The front end of cluster ", cluster.resource_id, " is not running."));
  }
  auto token = ReadFile(absl::StrCat(directory, "/", kFrontEndTokenFile));
  if (!token.ok()) return token.status();
  return Address{static_cast<uint16_t>(info->port), std::string(absl::StripAsciiWhitespace(*token))};
}

absl::StatusOr<std::string> FrontEndAdmin(const std::string& host, uint16_t port, const std::string& token,
                                          const std::string& method, const std::string& path, const std::string& body,
                                          std::chrono::milliseconds timeout) {
  http::Client client(host, port);
  http::Request request{.method = method, .target = path, .body = body};
  request.headers.Set("Authorization", absl::StrCat("Bearer ", token));
  request.headers.Set("Content-Type", "application/json");
  auto response = client.Send(std::move(request), {.timeout = timeout});
  if (!response.ok()) return response.status();
  if (response->status != 200) return StatusFromHttpError(response->status, response->body, "");
  return std::move(response->body);
}

absl::StatusOr<bool> ProbeFrontEnd(const std::string& host, uint16_t port, const std::string& token,
                                   absl::string_view endpoint, absl::string_view version) {
  http::Client client(host, port);
  http::Request request{.method = "GET", .target = absl::StrCat("/api/v1/service/", endpoint, "/swagger.json")};
  // Pinned, so that the probe reaches the version being deployed whatever its share of traffic.
  request.headers.Set("azureml-model-deployment", version);
  // swagger.json is as private as the service; the cluster's admin token opens it for this probe.
  request.headers.Set("Authorization", absl::StrCat("Bearer ", token));
  auto response = client.Send(std::move(request), {.timeout = 2s});
  return response.ok() && response->status == 200;
}

absl::StatusOr<std::string> LocalBackend::Admin(const ClusterRef& cluster, const std::string& method,
                                                const std::string& path, const std::string& body,
                                                std::chrono::milliseconds timeout) {
  auto address = FrontEndAddress(cluster);
  if (!address.ok()) return address.status();
  return FrontEndAdmin("127.0.0.1", address->port, address->token, method, path, body, timeout);
}

bool LocalBackend::StopProcess(const ProcessId& process, ClusterProgress& progress) {
  if (!IsRunning(process)) return true;
  auto now = Clock::now();
  if (progress.stop_deadline == Clock::time_point()) progress.stop_deadline = now + kStopGrace;
  kill(process.pid, now > progress.stop_deadline ? SIGKILL : SIGTERM);
  return false;
}

absl::StatusOr<ClusterState> LocalBackend::EnsureCluster(const ClusterRef& cluster) {
  std::string directory = ClusterDirectory(options_.home, cluster.id);
  if (auto s = MakeDirectories(directory); !s.ok()) return s;
  std::string token_path = absl::StrCat(directory, "/", kFrontEndTokenFile);
  if (!fs::exists(token_path)) {
    if (auto s = WriteFileAtomic(token_path, RandomToken(), 0600); !s.ok()) return s;
  }
  std::string log_path = absl::StrCat(directory, "/", kFrontEndLogFile);
  auto now = Clock::now();
  // The certificate the front end should serve, kept where a restarted front end finds it.
  FrontEndTls tls;
  if (cluster.tls) tls = {cluster.tls->certificate_pem, cluster.tls->private_key_pem};
  std::string tls_path = absl::StrCat(directory, "/", kFrontEndTlsFile);
  auto saved_tls = ReadJsonFile<FrontEndTls>(tls_path);
  if (tls.empty() ? saved_tls.has_value() : !saved_tls || saved_tls->Fingerprint() != tls.Fingerprint()) {
    std::error_code ignored;
    if (tls.empty()) fs::remove(tls_path, ignored);
    if (!tls.empty()) {
      if (auto s = WriteFileAtomic(tls_path, json::EncodeText(tls), 0600); !s.ok()) return s;
    }
  }
  std::string endpoint_host = cluster.tls ? cluster.tls->host : "127.0.0.1";
  const char* scheme = cluster.tls ? "https://" : "http://";

  if (auto info = RunningFrontEnd(directory)) {
    ProcessId process = ProcessOf(info->pid, info->start_time);
    auto status = Admin(cluster, "GET", "/admin/status", "", 1s);
    std::unique_lock lock(mu_);
    ClusterProgress& progress = clusters_[cluster.id];
    if (status.ok()) {
      auto parsed = json::DecodeText<FrontEndStatus>(*status, "Front end status");
      if (parsed.ok() && parsed->api == kFrontEndApiVersion && cluster.port != 0 && info->port != cluster.port) {
        // A local service moved to another port: its front end starts again there.
        StopProcess(process, progress);
        return ClusterState{false, "", absl::StrCat("Moving the front end to port ", cluster.port)};
      }
      if (parsed.ok() && parsed->api == kFrontEndApiVersion) {
        if (parsed->tls != tls.Fingerprint()) {
          // A new certificate (or none): the front end takes it for new connections and keeps the open ones.
          lock.unlock();
          auto applied = Admin(cluster, "PUT", "/admin/tls", json::EncodeText(tls), kAdminTimeout);
          if (!applied.ok()) return applied.status();
          lock.lock();
        }
        clusters_.erase(cluster.id);
        return ClusterState{true, absl::StrCat(scheme, endpoint_host, ":", info->port),
                            absl::StrCat("Cluster front end is running at 127.0.0.1:", info->port, " (pid ", info->pid,
                                         ")", cluster.tls ? absl::StrCat(", HTTPS for ", endpoint_host) : "")};
      }
      // A front end of another amlcore version: replace it (it keeps its port and its replicas' directories).
      StopProcess(process, progress);
      return ClusterState{false, "", "Replacing the cluster's front end, which runs another amlcore version"};
    }
    bool starting = progress.spawned.pid == process.pid && now - progress.spawned_at < kStartGrace;
    if (starting) return ClusterState{false, "", "Waiting for the cluster's front end to answer"};
    if (progress.unresponsive_since == Clock::time_point()) progress.unresponsive_since = now;
    if (now - progress.unresponsive_since > kUnresponsiveGrace) {
      kill(process.pid, SIGKILL);
      clusters_.erase(cluster.id);
      return ClusterState{false, "", "Replaced the cluster's front end, which stopped answering"};
    }
    return ClusterState{false, "", "The cluster's front end does not answer yet"};
  }

  std::unique_lock lock(mu_);
  auto found = clusters_.find(cluster.id);
  if (found != clusters_.end() && found->second.spawned.pid != 0) {
    ClusterProgress progress = found->second;
    if (IsRunning(progress.spawned)) {
      if (now - progress.spawned_at < kStartGrace) {
        return ClusterState{false, "", "Waiting for the cluster's front end to start"};
      }
      kill(progress.spawned.pid, SIGKILL);
      clusters_.erase(found);
      return absl::DeadlineExceededError(absl::StrCat("The cluster's front end did not become healthy within ",
                                                      kStartGrace.count(), " s."));
    }
    clusters_.erase(found);
    std::string tail = TailOfFile(log_path, 20, 4000);
    return absl::UnavailableError(
        absl::StrCat("The cluster's front end exited during start-up. Its log ends with:\n", tail));
  }
  if (FileLock::IsHeld(absl::StrCat(directory, "/", kFrontEndLockFile))) {
    // Someone holds the lock but published no address yet: a front end in its first milliseconds.
    return ClusterState{false, "", "Waiting for the cluster's front end to publish its address"};
  }
  // Start one, on the port asked for, else on the port its predecessor had so that scoring URIs stay valid.
  int64_t port = cluster.port;
  if (auto previous = ReadJsonFile<FrontEndInfo>(absl::StrCat(directory, "/", kFrontEndInfoFile)); previous && !port) {
    port = previous->port;
  }
  auto process = SpawnDaemon(SpawnOptions{
      .program = options_.frontend_program,
      .args = {"--cluster-dir", directory, "--home", options_.home, "--host", "127.0.0.1", "--port",
               absl::StrCat(port), "--cluster-id", cluster.resource_id},
      .log_path = log_path,
      .working_directory = directory,
  });
  if (!process.ok()) return process.status();
  clusters_[cluster.id] = ClusterProgress{.spawned = *process, .spawned_at = now};
  return ClusterState{false, "", absl::StrCat("Started the cluster's front end (pid ", process->pid, ")")};
}

absl::StatusOr<bool> LocalBackend::DeleteCluster(const ClusterRef& cluster) {
  std::string directory = ClusterDirectory(options_.home, cluster.id);
  std::lock_guard lock(mu_);
  ClusterProgress& progress = clusters_[cluster.id];
  // The front end first, so that it does not restart the replicas being stopped.
  if (auto info = RunningFrontEnd(directory)) {
    if (!StopProcess(ProcessOf(info->pid, info->start_time), progress)) return false;
  }
  if (progress.spawned.pid != 0 && !StopProcess(progress.spawned, progress)) return false;
  bool left = false;
  for (const auto& [id, process] : RunningReplicas(directory)) left |= !StopProcess(process, progress);
  if (left) return false;
  if (FileLock::IsHeld(absl::StrCat(directory, "/", kFrontEndLockFile))) {
    if (progress.stop_deadline != Clock::time_point() && Clock::now() > progress.stop_deadline + kStopGrace) {
      clusters_.erase(cluster.id);
      return absl::FailedPreconditionError(
          absl::StrCat("The front end of cluster ", cluster.resource_id, " is still running."));
    }
    if (progress.stop_deadline == Clock::time_point()) progress.stop_deadline = Clock::now() + kStopGrace;
    return false;
  }
  RemoveTree(directory);
  clusters_.erase(cluster.id);
  return true;
}

absl::Status LocalBackend::ApplyVersion(const ClusterRef& cluster, const domain::WorkloadSpec& spec) {
  LocalWorkload w;
  w.key = spec.key;
  w.revision = spec.revision;
  w.count = spec.replicas;
  w.autoscale = spec.autoscale;
  w.allowed = std::max(spec.replicas, spec.replicas_allowed);
  w.max_concurrent_requests = spec.max_concurrent_requests;
  w.program = options_.scoring_program;
  w.bundle_directory = spec.bundle_ref;
  w.entry_script = spec.artifacts.entry_script;
  w.source_directory = spec.artifacts.source_directory;
  const auto& models = spec.artifacts.models;
  w.model_directory = models.size() == 1
                          ? absl::StrCat("azureml-models/", models.front().name, "/", models.front().version)
                          : "azureml-models";
  w.python = spec.environment_ref.empty() ? options_.runtime_python : spec.environment_ref;
  w.environment_warnings = builds_->builder->Warnings(spec.environment_hash);
  w.python_path = options_.python_path;
  w.environment_variables = spec.environment_variables;
  w.memory_gb_limit = spec.resources.memory_gb_limit;
  w.scoring_timeout_ms = spec.scoring_timeout_ms;
  w.liveness = spec.liveness;
  return Admin(cluster, "PUT", absl::StrCat("/admin/workloads/", spec.key.Name()), json::EncodeText(w), kAdminTimeout)
      .status();
}

absl::Status LocalBackend::DeleteVersion(const ClusterRef& cluster, const domain::WorkloadKey& key) {
  auto done = Admin(cluster, "DELETE", absl::StrCat("/admin/workloads/", key.Name()), "", kAdminTimeout);
  // With the cluster's front end gone, so are the replicas it ran.
  if (!done.ok() && absl::IsUnavailable(done.status()) &&
      !fs::exists(absl::StrCat(ClusterDirectory(options_.home, cluster.id), "/", kFrontEndInfoFile))) {
    return absl::OkStatus();
  }
  return done.status();
}

absl::StatusOr<std::vector<domain::VersionObservation>> LocalBackend::ObserveVersions(const ClusterRef& cluster) {
  auto body = Admin(cluster, "GET", "/admin/workloads", "", kAdminTimeout);
  if (!body.ok()) return body.status();
  auto report = json::DecodeText<WorkloadsReport>(*body, "Workloads");
  if (!report.ok()) return report.status();
  return std::move(report->workloads);
}

absl::StatusOr<std::vector<LogContent>> LocalBackend::ReadLogs(const ClusterRef& cluster,
                                                               const domain::WorkloadKey& key,
                                                               const LogRequest& request) {
  auto versions = ObserveVersions(cluster);
  if (!versions.ok()) return versions.status();
  const domain::VersionObservation* version = nullptr;
  for (const auto& v : *versions) {
    if (v.key == key) version = &v;
  }
  std::vector<LogContent> out;
  if (version == nullptr) return out;
  // Best first: a ready replica of the current revision; else any, so that a crashed one's log is readable.
  std::vector<const domain::ReplicaObservation*> replicas;
  for (const auto& r : version->replicas) replicas.push_back(&r);
  auto rank = [&](const domain::ReplicaObservation* r) {
    return (r->revision == version->revision ? 2 : 0) + (r->state == domain::ReplicaState::kReady ? 1 : 0);
  };
  std::stable_sort(replicas.begin(), replicas.end(), [&](auto* a, auto* b) { return rank(a) > rank(b); });
  if (!request.all_replicas && replicas.size() > 1) replicas.resize(1);
  for (const domain::ReplicaObservation* replica : replicas) {
    std::string directory =
        absl::StrCat(ReplicasDirectory(ClusterDirectory(options_.home, cluster.id)), "/", replica->id);
    std::string current = absl::StrCat(directory, "/", kReplicaLogFile);
    std::string previous = absl::StrCat(directory, "/", kReplicaPreviousLogFile);
    bool use_previous = (!NonEmptyFile(current) || replica->state == domain::ReplicaState::kWaiting) &&
                        NonEmptyFile(previous);
    std::string path = use_previous ? previous : current;
    constexpr int64_t kMaxBytes = 16 << 20;
    out.push_back(LogContent{replica->id, replica->state,
                             request.startup ? StartupOfFile(path, std::max<int64_t>(request.tail, 1), kMaxBytes)
                                             : TailOfFile(path, request.tail, kMaxBytes),
                             static_cast<int64_t>(version->replicas.size())});
  }
  return out;
}

absl::Status LocalBackend::ApplyRoutes(const ClusterRef& cluster, const domain::RouteTable& table) {
  return Admin(cluster, "PUT", "/admin/routes", json::EncodeText(table), kAdminTimeout).status();
}

absl::StatusOr<int64_t> LocalBackend::RouteGeneration(const ClusterRef& cluster) {
  auto body = Admin(cluster, "GET", "/admin/status", "", kAdminTimeout);
  if (!body.ok()) return body.status();
  auto status = json::DecodeText<FrontEndStatus>(*body, "Front end status");
  if (!status.ok()) return status.status();
  return status->route_generation;
}

absl::StatusOr<bool> LocalBackend::Probe(const ClusterRef& cluster, absl::string_view endpoint,
                                         absl::string_view version) {
  auto address = FrontEndAddress(cluster);
  if (!address.ok()) return address.status();
  return ProbeFrontEnd("127.0.0.1", address->port, address->token, endpoint, version);
}

EnvironmentBuild LocalBackend::EnsureEnvironment(const Environment& environment, const std::string& hash) {
  std::shared_ptr<Builds> builds = builds_;
  std::lock_guard lock(builds->mu);
  auto found = builds->by_hash.find(hash);
  if (found != builds->by_hash.end()) {
    EnvironmentBuild copy = found->second;
    // A failed build is reported once to each caller that asks, then tried again by the next one.
    if (copy.state == EnvironmentBuild::State::kFailed) builds->by_hash.erase(found);
    return copy;
  }
  // What needs no build is answered at once.
  EnvironmentBuild quick;
  auto cached = builds->builder->FromCache(environment, hash, [&](const std::string& line) { quick.log.push_back(line); });
  if (cached) {
    if (cached->ok()) {
      quick.state = EnvironmentBuild::State::kReady;
      quick.ref = (*cached)->python;
      quick.warnings = (*cached)->warnings;
      builds->by_hash[hash] = quick;
    } else {
      quick.state = EnvironmentBuild::State::kFailed;
      quick.error = cached->status();
    }
    return quick;
  }
  builds->by_hash[hash] = EnvironmentBuild{};
  std::thread([builds, environment, hash] {
    auto log = [&](const std::string& line) {
      std::lock_guard lock(builds->mu);
      builds->by_hash[hash].log.push_back(line);
    };
    auto built = builds->builder->Build(environment, hash, log);
    std::lock_guard lock(builds->mu);
    EnvironmentBuild& state = builds->by_hash[hash];
    if (built.ok()) {
      state.state = EnvironmentBuild::State::kReady;
      state.ref = built->python;
      state.warnings = built->warnings;
    } else {
      state.state = EnvironmentBuild::State::kFailed;
      state.error = built.status();
    }
  }).detach();
  return EnvironmentBuild{};
}

absl::StatusOr<std::string> LocalBackend::StageBundle(const BundleRequest& request) {
  std::string bundle = absl::StrCat(WorkloadBundles(options_.home, request.key), "/r", request.revision);
  if (fs::exists(absl::StrCat(bundle, "/.complete"))) return bundle;
  RemoveTree(bundle);
  if (auto s = MakeDirectories(bundle); !s.ok()) return s;
  const domain::Artifacts& a = request.artifacts;
  std::string app_source = a.source_directory.empty() ? bundle : absl::StrCat(bundle, "/", a.source_directory);
  if (!a.snapshot.empty()) {
    auto archive = options_.blobs->Read(a.snapshot);
    if (!archive.ok()) return WithErrorCode(archive.status(), "SnapshotMissing");
    if (auto s = ExtractTar(*archive, app_source); !s.ok()) return WithErrorCode(s, "SnapshotInvalid");
  }
  // Model files are copies of the blobs, checked against their hashes: what a replica does to them never reaches
  // the registered model.
  for (const auto& m : a.models) {
    for (const auto& f : m.files) {
      std::string target = absl::StrCat(bundle, "/azureml-models/", m.name, "/", m.version, "/", f.path);
      if (auto s = options_.blobs->CopyTo(f.sha256, target, 0444); !s.ok()) {
        return WithErrorCode(s, "ModelFilesMissing");
      }
    }
  }
  if (auto s = WriteFileAtomic(absl::StrCat(bundle, "/.complete"), "", 0444); !s.ok()) return s;
  MakeReadOnly(bundle);
  return bundle;
}

void LocalBackend::ReleaseBundles(const domain::WorkloadKey& key, const std::vector<int64_t>& keep_revisions) {
  std::string directory = WorkloadBundles(options_.home, key);
  std::error_code ec;
  std::vector<std::string> drop;
  for (const auto& entry : fs::directory_iterator(directory, ec)) {
    std::string name = entry.path().filename().string();
    bool keep = false;
    for (int64_t r : keep_revisions) keep |= name == absl::StrCat("r", r);
    if (!keep) drop.push_back(entry.path().string());
  }
  for (const auto& path : drop) RemoveTree(path);
  if (keep_revisions.empty()) RemoveTree(directory);
}

std::vector<LocalProcess> ListLocalProcesses(const std::string& home) {
  std::vector<LocalProcess> out;
  std::error_code ec;
  for (const auto& cluster : fs::directory_iterator(ClustersDirectory(home), ec)) {
    std::string directory = cluster.path().string();
    if (auto info = RunningFrontEnd(directory)) {
      out.push_back({"frontend", cluster.path().filename().string(), "", ProcessOf(info->pid, info->start_time),
                     info->port});
    }
    for (const auto& [id, process] : RunningReplicas(directory)) {
      auto status = ReadJsonFile<ReplicaRuntimeStatus>(
          absl::StrCat(ReplicasDirectory(directory), "/", id, "/", kReplicaStatusFile));
      out.push_back({"replica", id, id.substr(0, id.find('.')), process, 0, status ? status->socket : ""});
    }
  }
  return out;
}

std::string LocalProcessesToJson(const std::vector<LocalProcess>& processes) {
  json::bj::array list;
  for (const auto& p : processes) {
    list.push_back(json::bj::object{{"kind", p.kind},
                                    {"name", p.name},
                                    {"service", p.service},
                                    {"pid", static_cast<int64_t>(p.process.pid)},
                                    {"port", p.port},
                                    {"socket", p.socket}});
  }
  return json::Serialize(json::bj::object{{"processes", std::move(list)}});
}

std::pair<int, int> StopLocalProcesses(const std::string& home) {
  int frontends = 0;
  int replicas = 0;
  std::error_code ec;
  std::vector<std::string> directories;
  for (const auto& cluster : fs::directory_iterator(ClustersDirectory(home), ec)) {
    directories.push_back(cluster.path().string());
  }
  for (const auto& directory : directories) {
    if (auto info = RunningFrontEnd(directory)) {
      if (Terminate(ProcessOf(info->pid, info->start_time), kStopGrace).ok()) ++frontends;
    }
  }
  for (const auto& directory : directories) {
    for (const auto& [id, process] : RunningReplicas(directory)) {
      // With its group: the processes its score.py started go too.
      if (Terminate(process, kStopGrace, /*whole_group=*/true).ok()) ++replicas;
    }
  }
  return {frontends, replicas};
}

}  // namespace amlcore::backend::local
