// Where the local backend keeps things under the server's home directory. One owner per file: the local backend
// and the processes it starts (amlcore-fe, amlcore-score) read and write these; nothing else does.
//
//   <home>/clusters/<cluster id>/        one directory per cluster
//       frontend.lock                    held by the cluster's front end for its whole life
//       frontend.json                    its pid, start time and port
//       admin_token                      the front end's admin credential (0600)
//       frontend.log
//       routes.json, workloads.json      the front end's desired state, kept across its restarts
//       tls.json                         the certificate and key it serves HTTPS with, when SSL is on (0600)
//       replicas/<replica id>/           one per replica (0700): replica.json (pid), status.json, replica.log,
//                                        replica.previous.log, replica.sock (where it listens, 0600: the
//                                        front end is the only way in), app/ (its copy of the bundle)
//   <home>/bundles/<workload>/r<revision>/   staged source snapshot and model files of one revision
//   <home>/environments/<hash>/          built Python environments
#ifndef AMLCORE_BACKEND_LOCAL_LAYOUT_H_
#define AMLCORE_BACKEND_LOCAL_LAYOUT_H_

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace amlcore::backend::local {

inline constexpr char kFrontEndLockFile[] = "frontend.lock";
inline constexpr char kFrontEndInfoFile[] = "frontend.json";
inline constexpr char kFrontEndTokenFile[] = "admin_token";
inline constexpr char kFrontEndLogFile[] = "frontend.log";
inline constexpr char kRoutesFile[] = "routes.json";
inline constexpr char kFrontEndTlsFile[] = "tls.json";
inline constexpr char kWorkloadsFile[] = "workloads.json";

inline constexpr char kReplicaInfoFile[] = "replica.json";
inline constexpr char kReplicaStatusFile[] = "status.json";
inline constexpr char kReplicaLogFile[] = "replica.log";
inline constexpr char kReplicaPreviousLogFile[] = "replica.previous.log";
inline constexpr char kReplicaAppDirectory[] = "app";
inline constexpr char kReplicaSocketFile[] = "replica.sock";

// The version of the admin interface between the local backend and amlcore-fe; a front end that speaks another
// one is replaced.
inline constexpr int kFrontEndApiVersion = 6;

inline std::string ClustersDirectory(absl::string_view home) { return absl::StrCat(home, "/clusters"); }
inline std::string ClusterDirectory(absl::string_view home, int64_t cluster_id) {
  return absl::StrCat(home, "/clusters/", cluster_id);
}
inline std::string ReplicasDirectory(absl::string_view cluster_directory) {
  return absl::StrCat(cluster_directory, "/replicas");
}
inline std::string BundlesDirectory(absl::string_view home) { return absl::StrCat(home, "/bundles"); }
inline std::string EnvironmentsDirectory(absl::string_view home) { return absl::StrCat(home, "/environments"); }

}  // namespace amlcore::backend::local

#endif  // AMLCORE_BACKEND_LOCAL_LAYOUT_H_
