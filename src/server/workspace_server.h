// amlcored as a library: the workspace server that keeps the state of workspaces and compute targets in
// <home>/amlcore.db, runs their long-running operations, and supervises clusters' front ends.
//
//   auto server = WorkspaceServer::Start({.home = "/tmp/amlcore-test"});
//   std::cout << (*server)->endpoint() << " token " << (*server)->admin_token();
#ifndef AMLCORE_SERVER_WORKSPACE_SERVER_H_
#define AMLCORE_SERVER_WORKSPACE_SERVER_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "backend/backend.h"

namespace amlcore::server {

struct WorkspaceServerOptions {
  std::string home;  // empty: $AMLCORE_HOME, else ~/.amlcore
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  // The amlcore-fe executable; empty: $AMLCORE_FE_PROGRAM, else next to the running executable.
  std::string frontend_program;
  // The amlcore-score executable; empty: $AMLCORE_SCORE_PROGRAM, else next to the running executable.
  std::string scoring_program;
  // The Python replicas and environments build on; empty: $AMLCORE_RUNTIME_PYTHON, else /usr/bin/python3.
  std::string runtime_python;
  // Builds environments whose pinned requirements pip cannot install with the versions the runtime's Python has,
  // warning about each, instead of failing them (AMLCORE_OFFLINE_ENVIRONMENTS=1 for amlcored).
  bool offline_environments = false;
  std::chrono::milliseconds simulated_provisioning{0};
  // How often every cluster is reconciled (front ends restarted, service health updated).
  std::chrono::milliseconds reconcile_interval{2000};
  // How long a deployment's replicas may take to become ready.
  std::chrono::milliseconds initialize_timeout{std::chrono::minutes(10)};
  // Blobs nothing refers to are removed once they are this old, every `blob_collection_interval`.
  std::chrono::seconds blob_grace{600};
  std::chrono::milliseconds blob_collection_interval{std::chrono::minutes(10)};
  // Service tokens live this long (refresh after half); the key that signs them rotates this often.
  std::chrono::seconds token_lifetime{3600};
  std::chrono::seconds signing_key_rotation{std::chrono::hours(24)};
  int http_threads = 4;
  // Workers of the controllers; they never wait, so two serve any number of operations.
  int operation_threads = 2;
  // Publish endpoint and token in <home>/server.json for SDKs that find the server on their own.
  bool write_server_file = true;
  // The seams to run workloads with; unset: the local backend under `home`. Tests pass fakes.
  std::optional<backend::Backend> backend;
};

// Where a server's home directory keeps things.
std::string DefaultHome();
inline constexpr char kServerFile[] = "server.json";
inline constexpr char kServerLockFile[] = "amlcored.lock";
inline constexpr char kAdminTokenFile[] = "admin_token";
inline constexpr char kDatabaseFile[] = "amlcore.db";
// amlcore's certificate authority (ca.key, mode 0600; ca.pem) for leaf-domain-label certificates.
inline constexpr char kCertificateAuthorityDirectory[] = "ca";

// Stops the server of `home` (default DefaultHome()) and, with `with_clusters`, every front end and replica it
// started. Returns what it did, for people.
absl::StatusOr<std::string> StopHome(std::string home, bool with_clusters);

class WorkspaceServer {
 public:
  static absl::StatusOr<std::unique_ptr<WorkspaceServer>> Start(WorkspaceServerOptions options);
  ~WorkspaceServer();

  uint16_t port() const;
  std::string endpoint() const;
  const std::string& admin_token() const;
  const std::string& home() const;
  // Writes <home>/server.json (endpoint, token, pid) again, e.g. after it was deleted or damaged: amlcored
  // does on SIGHUP, which is how SDKs recover a server that holds the home without the file.
  absl::Status PublishServerFile() const;
  // Stops serving; front ends keep running (the data plane outlives the control plane).
  void Stop();

  struct Impl;

 private:
  explicit WorkspaceServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace amlcore::server

#endif  // AMLCORE_SERVER_WORKSPACE_SERVER_H_
