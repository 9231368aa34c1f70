#include "backend/local/local_backend.h"

#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/files.h"
#include "common/http_client.h"
#include "common/errors.h"
#include "common/json.h"
#include "absl/strings/ascii.h"

namespace amlcore::backend {
namespace {
using namespace std::chrono_literals;

absl::StatusOr<FrontEndInfo> ReadInfo(const std::string& directory) {
  auto text = ReadFile(absl::StrCat(directory, "/", kFrontEndInfoFile));
  if (!text.ok()) return text.status();
  auto object = json::ParseObject(*text, kFrontEndInfoFile);
  if (!object.ok()) return object.status();
  FrontEndInfo info;
  info.port = static_cast<uint16_t>(json::GetInt(*object, "port"));
  info.process.pid = static_cast<pid_t>(json::GetInt(*object, "pid"));
  info.process.start_time = static_cast<uint64_t>(json::GetInt(*object, "start_time"));
  return info;
}
}  // namespace

bool ProbeHealth(uint16_t port) {
  if (port == 0) return false;
  http::Client client("127.0.0.1", port);
  auto response = client.Send(http::Request{.method = "GET", .target = "/"}, {.timeout = 2s});
  return response.ok() && response->status == 200;
}

LocalBackend::LocalBackend(std::string home, std::string frontend_program)
    : home_(std::move(home)), frontend_program_(std::move(frontend_program)) {}

std::string LocalBackend::ClusterDirectory(int64_t cluster_id) const {
  return absl::StrCat(home_, "/clusters/", cluster_id);
}

absl::StatusOr<FrontEndInfo> LocalBackend::RunningFrontEnd(const std::string& directory) {
  if (!FileLock::IsHeld(absl::StrCat(directory, "/", kFrontEndLockFile))) {
    return absl::NotFoundError("no front end holds the cluster's lock");
  }
  // The front end writes its address right after taking the lock; give it a moment.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (true) {
    auto info = ReadInfo(directory);
    if (info.ok() && IsRunning(info->process)) return info;
    if (std::chrono::steady_clock::now() > deadline) {
      return absl::UnavailableError("the cluster's front end holds its lock but published no address");
    }
    std::this_thread::sleep_for(20ms);
  }
}

absl::StatusOr<FrontEndInfo> LocalBackend::EnsureFrontEnd(const ClusterSpec& cluster) {
  std::string directory = ClusterDirectory(cluster.id);
  if (auto s = MakeDirectories(directory); !s.ok()) return s;
  std::string token_path = absl::StrCat(directory, "/", kFrontEndTokenFile);
  if (!std::filesystem::exists(token_path)) {
    if (auto s = WriteFileAtomic(token_path, RandomToken()); !s.ok()) return s;
  }

  if (auto running = RunningFrontEnd(directory); running.ok()) {
    // Adopt it once it answers; a front end that holds the lock but never answers is replaced.
    for (auto deadline = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < deadline;
         std::this_thread::sleep_for(50ms)) {
      if (ProbeHealth(running->port)) return running;
    }
    (void)Terminate(running->process, 2s);
  }

  std::string log_path = absl::StrCat(directory, "/", kFrontEndLogFile);
  auto process = SpawnDaemon(SpawnOptions{
      .program = frontend_program_,
      .args = {"--cluster-dir", directory, "--host", "127.0.0.1", "--port", absl::StrCat(cluster.port),
               "--cluster-id", cluster.resource_id},
      .log_path = log_path,
      .working_directory = directory,
  });
  if (!process.ok()) return process.status();

  auto deadline = std::chrono::steady_clock::now() + 15s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto info = ReadInfo(directory);
    if (info.ok() && info->process.pid == process->pid && ProbeHealth(info->port)) return info;
    if (!IsRunning(*process)) {
      auto log = ReadFile(log_path);
      std::string tail = log.ok() ? log->substr(log->size() > 2000 ? log->size() - 2000 : 0) : "";
      return absl::UnavailableError(
          absl::StrCat("The cluster's front end exited during start-up. Its log ends with:\n", tail));
    }
    std::this_thread::sleep_for(10ms);
  }
  (void)Terminate(*process, 1s);
  return absl::DeadlineExceededError("The cluster's front end did not become healthy within 15 s.");
}

bool LocalBackend::IsFrontEndHealthy(const ClusterSpec& cluster) {
  auto info = ReadInfo(ClusterDirectory(cluster.id));
  return info.ok() && IsRunning(info->process) && ProbeHealth(info->port);
}

absl::Status LocalBackend::DeleteCluster(const ClusterSpec& cluster) {
  std::string directory = ClusterDirectory(cluster.id);
  if (auto info = ReadInfo(directory); info.ok()) {
    if (auto s = Terminate(info->process, 10s); !s.ok()) return s;
  }
  // Replicas are daemons of their own; the cluster's end is theirs too.
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(absl::StrCat(directory, "/replicas"), ec)) {
    auto text = ReadFile((entry.path() / "replica.json").string());
    if (!text.ok()) continue;
    auto object = json::ParseObject(*text, "replica.json");
    if (!object.ok()) continue;
    (void)Terminate(ProcessId{static_cast<pid_t>(json::GetInt(*object, "pid")),
                              static_cast<uint64_t>(json::GetInt(*object, "start_time"))},
                    5s);
  }
  // A lock still held means a front end we could not identify; refuse to pull its directory away.
  if (FileLock::IsHeld(absl::StrCat(directory, "/", kFrontEndLockFile))) {
    return absl::FailedPreconditionError(
        absl::StrCat("The front end of cluster ", cluster.resource_id, " is still running."));
  }
  std::filesystem::remove_all(directory, ec);
  return absl::OkStatus();
}

absl::StatusOr<std::string> LocalBackend::Admin(const ClusterSpec& cluster, const std::string& method,
                                                const std::string& path, const std::string& body) {
  std::string directory = ClusterDirectory(cluster.id);
  auto info = ReadInfo(directory);
  if (!info.ok()) {
    return absl::UnavailableError(absl::StrCat("The front end of cluster ", cluster.resource_id, " is not running."));
  }
  auto token = ReadFile(absl::StrCat(directory, "/", kFrontEndTokenFile));
  if (!token.ok()) return token.status();
  http::Client client("127.0.0.1", info->port);
  http::Request request{.method = method, .target = path, .body = body};
  request.headers.Set("Authorization", absl::StrCat("Bearer ", absl::StripAsciiWhitespace(*token)));
  request.headers.Set("Content-Type", "application/json");
  auto response = client.Send(std::move(request), {.timeout = 10s});
  if (!response.ok()) return response.status();
  if (response->status != 200) {
    return StatusFromHttpError(response->status, response->body, "");
  }
  return std::move(response->body);
}

absl::Status LocalBackend::PushRoutes(const ClusterSpec& cluster, const domain::RouteTable& table) {
  return Admin(cluster, "PUT", "/admin/routes", domain::RouteTableToJson(table)).status();
}

absl::StatusOr<domain::FrontEndStatus> LocalBackend::ReplicaStatus(const ClusterSpec& cluster) {
  auto body = Admin(cluster, "GET", "/admin/replicas", "");
  if (!body.ok()) return body.status();
  return domain::FrontEndStatusFromJson(*body);
}

}  // namespace amlcore::backend
