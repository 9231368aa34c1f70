#include "server/route_publisher.h"

#include "absl/strings/str_cat.h"
#include "domain/service_rules.h"
#include "server/cluster_controller.h"
#include "server/deployment_spec.h"
#include "server/service_controller.h"
#include "common/json.h"

namespace amlcore::server {

std::mutex& RoutePublisher::ClusterMutex(int64_t cluster_id) {
  std::lock_guard lock(mu_);
  auto& m = cluster_mutexes_[cluster_id];
  if (!m) m = std::make_unique<std::mutex>();
  return *m;
}

std::string AuthModeOf(const ServiceRecord& service, const DeploymentSpec& spec) {
  // An endpoint's auth is its own; a web service's is its version's.
  AksServiceDeploymentConfiguration own = spec.request.config;
  if (service.kind == ServiceKind::kEndpoint) {
    auto parsed = json::ParseObject(service.endpoint_config, "endpoint_config");
    auto config = parsed.ok() ? domain::DeployConfigFromJson(*parsed) : parsed.status();
    own = config.ok() ? *config : AksServiceDeploymentConfiguration{};
  }
  auto c = domain::Resolve(own);
  return c.auth_enabled         ? domain::AuthMode::kKey
         : c.token_auth_enabled ? domain::AuthMode::kToken
                                : domain::AuthMode::kNone;
}

std::string RoutePublisher::Fingerprint(const domain::TokenValidation& tokens) {
  std::string out = tokens.issuer;
  for (const auto& k : tokens.keys) absl::StrAppend(&out, ";", k.kid, "@", k.not_after);
  return out;
}

absl::Status RoutePublisher::Publish(int64_t cluster_id) {
  std::lock_guard serialized(ClusterMutex(cluster_id));
  domain::RouteTable table;
  if (tokens_ != nullptr) table.tokens = tokens_->Published();
  backend::ClusterRef ref;
  auto status = store_->db().Transaction([&](Tx& tx) -> absl::Status {
    auto found = store_->GetCluster(tx, cluster_id);
    if (!found.ok()) return found.status();
    if (!found->has_value()) return absl::NotFoundError(absl::StrCat("Cluster ", cluster_id, " no longer exists."));
    ClusterRecord cluster = **found;
    ref = ClusterRefOf(cluster);
    cluster.route_generation++;
    if (auto s = store_->UpdateCluster(tx, cluster); !s.ok()) return s;
    table.generation = cluster.route_generation;
    table.access_log = cluster.access_log;
    auto versions = store_->VersionsOnCluster(tx, cluster_id);
    if (!versions.ok()) return versions.status();
    for (const auto& [service, version] : *versions) {
      // A container group's one service answers at its root too.
      if (cluster.is_container_group()) table.root_endpoint = service.name;
      if (service.state == ServiceState::kDeleting || version.state == kVersionDeleting || version.live_spec.empty()) {
        continue;
      }
      auto spec = DeploymentSpecFromJson(version.live_spec);
      if (!spec.ok()) continue;
      if (table.endpoints.empty() || table.endpoints.back().name != service.name) {
        domain::EndpointRoute endpoint;
        endpoint.name = service.name;
        endpoint.auth.mode = AuthModeOf(service, *spec);
        endpoint.auth.keys = {service.primary_key, service.secondary_key};
        if (endpoint.auth.mode == domain::AuthMode::kToken) {
          endpoint.auth.audience = TokenAuthority::Audience(cluster.resource_id(), service.name);
        }
        table.endpoints.push_back(std::move(endpoint));
      }
      table.endpoints.back().versions.push_back(RouteOf(service, version, *spec));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (auto s = router_->ApplyRoutes(ref, table); !s.ok()) return s;
  std::lock_guard lock(mu_);
  published_keys_[cluster_id] = Fingerprint(table.tokens);
  return absl::OkStatus();
}

absl::Status RoutePublisher::Resync(int64_t cluster_id) {
  int64_t published = 0;
  backend::ClusterRef ref;
  auto status = store_->db().Read([&](Tx& tx) -> absl::Status {
    auto found = store_->GetCluster(tx, cluster_id);
    if (!found.ok()) return found.status();
    if (!found->has_value()) return absl::NotFoundError(absl::StrCat("Cluster ", cluster_id, " no longer exists."));
    published = (*found)->route_generation;
    ref = ClusterRefOf(**found);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  auto serving = router_->RouteGeneration(ref);
  if (!serving.ok()) return serving.status();
  bool keys_current = true;
  if (tokens_ != nullptr) {
    std::string now = Fingerprint(tokens_->Published());
    std::lock_guard lock(mu_);
    auto it = published_keys_.find(cluster_id);
    keys_current = it != published_keys_.end() && it->second == now;
  }
  if (*serving == published && keys_current) return absl::OkStatus();
  if (*serving > published) {
    // The router has a newer table than this database remembers (a restored database): go past it.
    (void)store_->db().Transaction([&](Tx& tx) -> absl::Status {
      auto found = store_->GetCluster(tx, cluster_id);
      if (!found.ok() || !found->has_value()) return absl::OkStatus();
      ClusterRecord cluster = **found;
      cluster.route_generation = *serving;
      return store_->UpdateCluster(tx, cluster);
    });
  }
  return Publish(cluster_id);
}

}  // namespace amlcore::server
