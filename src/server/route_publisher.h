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
#include "server/store.h"

namespace amlcore::server {

class RoutePublisher {
 public:
  RoutePublisher(Store* store, backend::Router* router) : store_(store), router_(router) {}

  // Publishes the cluster's current table.
  absl::Status Publish(int64_t cluster_id);
  // Publishes again when the router serves an older table than the last one published (it restarted, or
  // missed a publication); no call to the router's writer otherwise.
  absl::Status Resync(int64_t cluster_id);

 private:
  std::mutex& ClusterMutex(int64_t cluster_id);

  Store* store_;
  backend::Router* router_;
  std::mutex mu_;
  std::map<int64_t, std::unique_ptr<std::mutex>> cluster_mutexes_;
};

}  // namespace amlcore::server

#endif  // AMLCORE_SERVER_ROUTE_PUBLISHER_H_
