// The front end of one cluster (amlcore-fe): the single address clients score against. It answers health
// checks on GET / to anyone; a service's /score and /swagger.json take one of its keys when its auth is on;
// /metrics and the admin interface (route tables and workloads from amlcored) take the cluster's admin token.
//
//   auto fe = FrontEnd::Start({.cluster_directory = dir});
//   std::cout << (*fe)->port();
#ifndef AMLCORE_FRONTEND_FRONT_END_H_
#define AMLCORE_FRONTEND_FRONT_END_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace amlcore::frontend {

struct FrontEndOptions {
  // Holds the admin token; the front end locks it and publishes its address there.
  std::string cluster_directory;
  std::string cluster_id;  // the cluster's resource id, for logs
  // What replicas must not see (AMLCORE_HOME); the cluster directory when empty.
  std::string home;
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  // I/O threads; 0 means DefaultIoThreads().
  int threads = 0;
  // How long an autoscaled version's load must stay low before it is scaled down.
  std::chrono::milliseconds autoscale_stabilization{60000};
  // An attached Kubernetes cluster's router, in a pod: no cluster directory; routes, versions and replicas come
  // from the API server (the pod's service account) in `namespace_name`; the admin token is given.
  bool kubernetes = false;
  std::string namespace_name;
  std::string admin_token;
  // How long a version that may scale to zero (autoscale_min_replicas=0) stays idle before its last replica stops.
  std::chrono::milliseconds scale_to_zero_idle{300000};
};

// One I/O thread per core this process may run on, at least 2 and at most 8. One thread serves tens of
// thousands of requests a second, but it is the only one: a handler that waits (on a lock, on the disk) holds
// back every service of the cluster, and under load the front end gets one core however many there are. Past
// 8 the replicas need the cores more.
int DefaultIoThreads();

class FrontEnd {
 public:
  static absl::StatusOr<std::unique_ptr<FrontEnd>> Start(const FrontEndOptions& options);
  ~FrontEnd();
  uint16_t port() const;
  void Stop();

  struct Impl;

 private:
  explicit FrontEnd(std::unique_ptr<Impl> impl);
  static absl::StatusOr<std::unique_ptr<FrontEnd>> StartInKubernetes(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace amlcore::frontend

#endif  // AMLCORE_FRONTEND_FRONT_END_H_
