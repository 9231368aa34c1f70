// Publishes the route tables of clusters: builds a cluster's whole table from the database (every service on
// it that runs, with its versions, auth and limits), gives it the next generation, and hands it to the
// backend's router. Publications to one cluster are serialized, so a router never sees generations out of
// order.
#ifndef AMLCORE_SERVER_ROUTE_PUBLISHER_H_
#define AMLCORE_SERVER_ROUTE_PUBLISHER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

#include "absl/status/status.h"
#include "backend/backend.h"
#include "server/deployment_spec.h"
#include "server/store.h"
#include "server/token_authority.h"

namespace amlcore::server {

// How requests for `service` authenticate (domain::AuthMode), `spec` being one of its versions'.
std::string AuthModeOf(const ServiceRecord& service, const DeploymentSpec& spec);

class RoutePublisher {
 public:
  // `tokens` gives the table the keys routers verify tokens with (null: none).
  RoutePublisher(Store* store, backend::Router* router, TokenAuthority* tokens = nullptr)
      : store_(store), router_(router), tokens_(tokens) {}

  // Publishes the cluster's current table.
  absl::Status Publish(int64_t cluster_id);
  // Publishes again when the router serves an older table than the last one published (it restarted, or
  // missed a publication), or when the token keys changed since; no call to the router's writer otherwise.
  absl::Status Resync(int64_t cluster_id);

 private:
  std::mutex& ClusterMutex(int64_t cluster_id);

  static std::string Fingerprint(const domain::TokenValidation& tokens);

  Store* store_;
  backend::Router* router_;
  TokenAuthority* tokens_;
  std::mutex mu_;
  std::map<int64_t, std::unique_ptr<std::mutex>> cluster_mutexes_;
  std::map<int64_t, std::string> published_keys_;  // by cluster: the token keys of its last table
};

}  // namespace amlcore::server

#endif  // AMLCORE_SERVER_ROUTE_PUBLISHER_H_
