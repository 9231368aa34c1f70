// Clusters as processes on this machine. Each cluster has a directory under <home>/clusters holding its
// front end's lock (held while the front end runs), its address (frontend.json), admin token and log.
#ifndef AMLCORE_BACKEND_LOCAL_LOCAL_BACKEND_H_
#define AMLCORE_BACKEND_LOCAL_LOCAL_BACKEND_H_

#include <string>

#include "backend/backend.h"

namespace amlcore::backend {

class LocalBackend : public ComputeBackend {
 public:
  // `frontend_program` is the amlcore-fe executable.
  LocalBackend(std::string home, std::string frontend_program);

  absl::StatusOr<FrontEndInfo> EnsureFrontEnd(const ClusterSpec& cluster) override;
  bool IsFrontEndHealthy(const ClusterSpec& cluster) override;
  absl::Status DeleteCluster(const ClusterSpec& cluster) override;
  absl::Status PushRoutes(const ClusterSpec& cluster, const domain::RouteTable& table) override;
  absl::StatusOr<domain::FrontEndStatus> ReplicaStatus(const ClusterSpec& cluster) override;

  std::string ClusterDirectory(int64_t cluster_id) const;

 private:
  // The running front end of a cluster according to its files, if its lock is held.
  absl::StatusOr<FrontEndInfo> RunningFrontEnd(const std::string& directory);
  // An authenticated call to the cluster front end's admin interface.
  absl::StatusOr<std::string> Admin(const ClusterSpec& cluster, const std::string& method, const std::string& path,
                                    const std::string& body);

  std::string home_;
  std::string frontend_program_;
};

// Files in a cluster directory, shared with amlcore-fe.
inline constexpr char kFrontEndLockFile[] = "frontend.lock";
inline constexpr char kFrontEndInfoFile[] = "frontend.json";
inline constexpr char kFrontEndTokenFile[] = "admin_token";
inline constexpr char kFrontEndLogFile[] = "frontend.log";

// GET / on 127.0.0.1:port answers 200.
bool ProbeHealth(uint16_t port);

}  // namespace amlcore::backend

#endif  // AMLCORE_BACKEND_LOCAL_LOCAL_BACKEND_H_
