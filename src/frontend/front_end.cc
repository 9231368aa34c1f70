#include "frontend/front_end.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <ctime>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "backend/local/layout.h"
#include "backend/local/local_workload.h"
#include "common/crypto.h"
#include "common/files.h"
#include "common/http_server.h"
#include "common/http_upstream.h"
#include "common/json.h"
#include "common/log.h"
#include "common/process.h"
#include "common/prometheus.h"
#include "common/json_fields.h"
#include "domain/autoscaler.h"
#include "domain/endpoint_rules.h"
#include "domain/workload.h"
#include "frontend/dispatcher.h"
#include "backend/kubernetes/kubeconfig.h"
#include "backend/kubernetes/manifests.h"
#include "frontend/kubernetes_replicas.h"
#include "frontend/supervisor.h"
#include "frontend/token_gate.h"

namespace amlcore::frontend {
namespace {
using namespace std::chrono_literals;
namespace local = backend::local;

constexpr absl::string_view kServicePrefix = "/api/v1/service/";
constexpr absl::string_view kWorkloadsPrefix = "/admin/workloads/";

// What the request path needs of an endpoint: its route and, per version, the dispatcher of its workload.
struct ServiceEntry {
  domain::EndpointRoute route;
  std::vector<std::shared_ptr<VersionDispatcher>> dispatchers;  // same order as route.versions
};

http::Headers WithoutAuthorization(const http::Headers& headers) {
  http::Headers out;
  for (const auto& [name, value] : headers.fields()) {
    if (!absl::EqualsIgnoreCase(name, "authorization")) out.Add(name, value);
  }
  return out;
}

// The workloads a front end runs, kept in its cluster directory across restarts.
struct SavedWorkloads {
  std::vector<local::LocalWorkload> workloads;
};
constexpr auto JsonFields(const SavedWorkloads*) {
  return json::Fields(json::Field("workloads", &SavedWorkloads::workloads));
}
}  // namespace

struct FrontEnd::Impl {
  // First, so that it goes last: the server's connections and the upstream's live on it. One loop for both
  // keeps a request, its call to the replica and the reply on one thread.
  std::unique_ptr<http::EventLoop> loop;
  FrontEndOptions options;
  std::optional<FileLock> lock;
  std::string admin_token;
  std::unique_ptr<http::UpstreamClient> upstream;
  std::unique_ptr<ReplicaRunner> supervisor;
  KubernetesReplicas* kubernetes = nullptr;  // the supervisor, when the router runs in Kubernetes
  std::thread kubernetes_sync;
  std::unique_ptr<http::Server> server;

  TokenGate tokens;
  // The fingerprint of the certificate served (local::FrontEndTls), "" for plain HTTP only.
  std::atomic<std::shared_ptr<const std::string>> tls_fingerprint{std::make_shared<const std::string>()};
  // Serializes the admin interface's changes (routes, workloads) with the files that keep them across restarts,
  // now that its requests may run on several I/O threads at once: a change is checked, written and applied as
  // one step, in the order it arrived. The files are written without `mu`, which scoring requests take.
  std::mutex admin_mu;
  std::mutex mu;
  domain::RouteTable routes;
  std::map<std::string, local::LocalWorkload> workloads;                  // by workload name
  std::map<std::string, std::shared_ptr<ServiceEntry>> services;          // by endpoint name
  std::map<std::string, std::shared_ptr<VersionDispatcher>> dispatchers;  // by workload name
  std::thread expiry;
  std::atomic<bool> stopping{false};

  // The autoscalers of autoscaled workloads, by workload name; touched by the admin interface (policies) and
  // the expiry thread (samples and decisions).
  struct ScaledWorkload {
    std::unique_ptr<domain::Autoscaler> autoscaler;
    int64_t allowed = 0;
    Clock::time_point next_decision{};
    int64_t last_wanted = -1;
  };
  std::mutex autoscale_mu;
  std::map<std::string, ScaledWorkload> scaled;

  // Responses no version gave: refusals of service requests by service ("" for a name the cluster does not
  // serve, so that made-up names make no series) and code, and every other path's by handler and code.
  prometheus::LabeledCounters refused;
  prometheus::LabeledCounters other_requests;

  // One service request as the front end accounts for it once it is answered.
  struct Exchange {
    Clock::time_point arrived = Clock::now();
    std::string service;  // "" until the name is known to be served
    std::shared_ptr<VersionDispatcher> dispatcher;  // the version chosen, if any
    bool probe = false;   // the workspace server's readiness probe (the cluster's admin token)
    // For the access log.
    std::string method;
    std::string path;
    std::string request_id;
  };

  // The cluster's access log switch, from its route table.
  std::atomic<bool> access_log{false};

  void Account(const Exchange& exchange, int status) {
    if (access_log.load(std::memory_order_relaxed)) WriteAccessLine(exchange, status);
    if (!exchange.dispatcher) return refused.Add({exchange.service, absl::StrCat(status)});
    VersionMetrics& m = exchange.dispatcher->metrics();
    if (exchange.probe) return m.probe_responses.Add(status);
    m.responses.Add(status);
    m.latency.Observe(Clock::now() - exchange.arrived);
  }

  static void WriteAccessLine(const Exchange& exchange, int status) {
    auto or_dash = [](absl::string_view text) { return text.empty() ? absl::string_view("-") : text; };
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - exchange.arrived).count();
    logging::Info(absl::StrCat(
        "access request_id=", or_dash(exchange.request_id), " service=", or_dash(exchange.service),
        " version=", exchange.dispatcher ? exchange.dispatcher->version() : "-", " status=", status,
        " latency_ms=", absl::StrFormat("%.3f", ms), " method=", or_dash(exchange.method),
        " path=", or_dash(exchange.path), exchange.probe ? " probe=true" : ""));
  }

  static const char* HandlerOf(absl::string_view path) {
    if (path == "/") return "health";
    if (path == "/metrics") return "metrics";
    if (absl::StartsWith(path, "/admin/")) return "admin";
    return "";
  }

  // Counts a response given before the request reached Handle (refused on its head or its framing).
  void AccountRefusal(absl::string_view path, int status, const http::Request* head = nullptr) {
    if (auto target = ServiceTarget(path)) {
      Exchange exchange;
      if (Find(target->first)) exchange.service = target->first;
      exchange.path = std::string(path);
      if (head) {
        exchange.method = head->method;
        exchange.request_id = std::string(head->headers.Get("x-request-id").value_or(""));
      }
      return Account(exchange, status);
    }
    other_requests.Add({HandlerOf(path), absl::StrCat(status)});
  }

  // Sets, changes or drops the autoscaler of a workload from its spec.
  void PutAutoscaler(const local::LocalWorkload& workload) {
    std::lock_guard guard(autoscale_mu);
    std::string name = workload.key.Name();
    if (!workload.autoscale) {
      scaled.erase(name);
      return;
    }
    const domain::AutoscaleSpec& a = *workload.autoscale;
    domain::AutoscalePolicy policy{.min_replicas = a.min_replicas,
                                   .max_replicas = a.max_replicas,
                                   .target_utilization = a.target_utilization,
                                   .max_concurrent_per_replica = std::max<int64_t>(1, workload.max_concurrent_requests),
                                   .refresh = std::chrono::seconds(std::max<int64_t>(1, a.refresh_seconds)),
                                   .stabilization = options.autoscale_stabilization,
                                   .idle_to_zero = options.scale_to_zero_idle};
    ScaledWorkload& s = scaled[name];
    if (!s.autoscaler) {
      s.autoscaler = std::make_unique<domain::Autoscaler>(policy);
    } else {
      s.autoscaler->SetPolicy(policy);
    }
    int64_t allowed = std::max(workload.count, workload.allowed);
    // Capacity granted for a scale-up the load asked for is used at once, not at the next refresh.
    if (allowed > s.allowed) s.next_decision = {};
    s.allowed = allowed;
  }

  // Samples every autoscaled workload's load and, each refresh period, scales it as its autoscaler decides.
  void Autoscale(Clock::time_point now) {
    std::vector<std::pair<std::string, std::shared_ptr<VersionDispatcher>>> targets;
    {
      std::lock_guard guard(autoscale_mu);
      std::lock_guard lock(mu);
      for (const auto& [name, s] : scaled) {
        if (auto d = dispatchers.find(name); d != dispatchers.end()) targets.emplace_back(name, d->second);
      }
    }
    for (const auto& [name, dispatcher] : targets) {
      int64_t current = supervisor->Desired(name);
      if (current < 0) continue;
      domain::AutoscaleDecision decision;
      {
        std::lock_guard guard(autoscale_mu);
        auto it = scaled.find(name);
        if (it == scaled.end()) continue;
        ScaledWorkload& s = it->second;
        int queued = dispatcher->QueueDepth();
        // Utilization counts against what a replica takes at once (its batch size when it batches).
        if (int cap = dispatcher->ReplicaCap(); cap != s.autoscaler->policy().max_concurrent_per_replica) {
          domain::AutoscalePolicy policy = s.autoscaler->policy();
          policy.max_concurrent_per_replica = cap;
          s.autoscaler->SetPolicy(policy);
        }
        s.autoscaler->Sample(now, dispatcher->TotalInflight(), queued);
        // A request for a version scaled to zero does not wait for the next period.
        if (now < s.next_decision && !(current == 0 && queued > 0)) continue;
        s.next_decision = now + s.autoscaler->policy().refresh;
        decision = s.autoscaler->Decide(now, current, s.allowed);
        if (decision.desired == current && decision.wanted == s.last_wanted) continue;
        s.last_wanted = decision.wanted;
      }
      if (decision.desired != current) {
        logging::Info(absl::StrCat(name, ": ", decision.reason, ", ", current, " -> ", decision.desired,
                                   " replicas (the load asks for ", decision.wanted, ")"));
      }
      supervisor->Scale(name, decision.desired, decision.wanted);
    }
  }

  bool AdminAuthorized(const http::Request& request) const {
    auto credential = http::BearerCredential(request.headers);
    return credential && ConstantTimeEquals(*credential, admin_token);
  }

  std::shared_ptr<ServiceEntry> Find(const std::string& name) {
    std::lock_guard guard(mu);
    auto it = services.find(name);
    return it == services.end() ? nullptr : it->second;
  }

  // The dispatcher of a workload, made on first use (by a route or by the workload itself). Call with mu held.
  std::shared_ptr<VersionDispatcher> DispatcherLocked(const std::string& workload, absl::string_view endpoint,
                                                      absl::string_view version) {
    auto& d = dispatchers[workload];
    if (!d) d = std::make_shared<VersionDispatcher>(std::string(endpoint), std::string(version), upstream.get());
    return d;
  }

  // Rebuilds the endpoint map from the route table, and drops dispatchers neither a route nor a workload uses
  // (the supervisor keeps its own reference while it drains a removed workload). Call with mu held.
  void RebuildLocked() {
    std::map<std::string, std::shared_ptr<ServiceEntry>> next;
    std::set<std::string> used;
    for (const auto& route : routes.endpoints) {
      auto entry = std::make_shared<ServiceEntry>();
      entry->route = route;
      for (const auto& version : route.versions) {
        auto dispatcher = DispatcherLocked(version.workload, route.name, version.name);
        dispatcher->SetLimits(
            {.max_concurrent_per_replica = static_cast<int>(std::max<int64_t>(1, version.max_concurrent_requests_per_replica)),
             .concurrency_given = version.concurrency_given,
             .max_queue_wait = std::chrono::milliseconds(version.max_queue_wait_ms),
             .scoring_timeout = std::chrono::milliseconds(version.scoring_timeout_ms)});
        entry->dispatchers.push_back(dispatcher);
        used.insert(version.workload);
      }
      next[route.name] = std::move(entry);
    }
    for (const auto& [name, w] : workloads) used.insert(name);
    std::erase_if(dispatchers, [&](const auto& item) { return !used.contains(item.first); });
    services = std::move(next);
  }

  // What workloads.json should hold. Call with mu held.
  std::string SavedWorkloadsLocked() const {
    SavedWorkloads saved;
    for (const auto& [name, w] : workloads) saved.workloads.push_back(w);
    return json::EncodeText(saved);
  }

  // Call with admin_mu held, not mu.
  void SaveWorkloads(const std::string& text) {
    if (options.kubernetes) return;  // Kubernetes keeps them (the Deployments)
    (void)WriteFileAtomic(absl::StrCat(options.cluster_directory, "/", local::kWorkloadsFile), text, 0600);
  }

  void ApplyRoutes(domain::RouteTable table) {
    if (auto s = tokens.Set(table.tokens, std::time(nullptr)); !s.ok()) {
      logging::Error(absl::StrCat("route table generation ", table.generation, ": ", s.message()));
    }
    if (table.access_log != access_log.exchange(table.access_log)) {
      logging::Info(absl::StrCat("access log ", table.access_log ? "on" : "off"));
    }
    std::lock_guard guard(mu);
    routes = std::move(table);
    RebuildLocked();
  }

  void PutWorkload(local::LocalWorkload workload) {
    std::lock_guard admin(admin_mu);
    std::string name = workload.key.Name();
    std::shared_ptr<VersionDispatcher> dispatcher;
    std::string saved;
    {
      std::lock_guard guard(mu);
      dispatcher = DispatcherLocked(name, workload.key.endpoint, workload.key.version);
      workloads[name] = workload;
      saved = SavedWorkloadsLocked();
    }
    SaveWorkloads(saved);
    dispatcher->SetHoldWhenNoReplica(workload.autoscale && workload.autoscale->min_replicas == 0);
    PutAutoscaler(workload);
    supervisor->Put(VersionTarget{std::move(workload), std::move(dispatcher)});
  }

  void RemoveWorkload(const std::string& name) {
    std::lock_guard admin(admin_mu);
    std::string saved;
    {
      std::lock_guard guard(mu);
      if (workloads.erase(name) == 0) return;
      saved = SavedWorkloadsLocked();
      RebuildLocked();
    }
    SaveWorkloads(saved);
    {
      std::lock_guard guard(autoscale_mu);
      scaled.erase(name);
    }
    supervisor->Remove(name);
  }

  // Weighted choice among versions by their effective shares: a version's percentile when it has ready
  // replicas (or was scaled to zero: its requests wake it), the default what the others leave (see
  // domain::EffectiveShares); the default when none is ready.
  std::shared_ptr<VersionDispatcher> ChooseVersion(const ServiceEntry& entry) {
    const auto& versions = entry.route.versions;
    if (versions.empty()) return nullptr;
    if (versions.size() == 1) return entry.dispatchers[0];
    std::vector<domain::VersionRouting> routing;
    std::vector<bool> ready;
    for (size_t i = 0; i < versions.size(); ++i) {
      routing.push_back({versions[i].name, versions[i].traffic_percentile, versions[i].is_default, ""});
      ready.push_back(entry.dispatchers[i]->Serves());
    }
    std::vector<double> shares = domain::EffectiveShares(routing, ready);
    thread_local std::mt19937_64 random(std::random_device{}());
    int chosen = domain::PickVersion(shares, std::uniform_real_distribution<double>(0, 100)(random));
    if (chosen >= 0) return entry.dispatchers[chosen];
    // Nothing is ready: the default answers (with 503, or from its queue when a replica comes up).
    for (size_t i = 0; i < versions.size(); ++i) {
      if (versions[i].is_default) return entry.dispatchers[i];
    }
    return entry.dispatchers[0];
  }

  // The version a request pins with azureml-model-deployment, if it names one; null if it names none.
  std::shared_ptr<VersionDispatcher> PinnedVersion(const ServiceEntry& entry, absl::string_view pinned) {
    for (size_t i = 0; i < entry.route.versions.size(); ++i) {
      if (entry.route.versions[i].name == pinned) return entry.dispatchers[i];
    }
    return nullptr;
  }

  // OK when the request carries the credential the service's auth mode asks for; otherwise UNAUTHENTICATED
  // with what is wrong. Scoring and the service's swagger.json take the service's credential when its auth is
  // on, as on Azure; swagger.json also takes the cluster's admin token, with which amlcored probes that a
  // service is routed.
  absl::Status Authorize(const ServiceEntry& entry, const http::Request& request, absl::string_view action) {
    const auto& auth = entry.route.auth;
    if (auth.mode == domain::AuthMode::kNone) return absl::OkStatus();
    auto credential = http::BearerCredential(request.headers);
    if (!credential) return absl::UnauthenticatedError("the request has no 'Authorization: Bearer' header");
    if (action == "/swagger.json" && ConstantTimeEquals(*credential, admin_token)) return absl::OkStatus();
    if (auth.mode == domain::AuthMode::kToken) return tokens.Check(*credential, auth.audience, std::time(nullptr));
    bool match = false;
    for (const auto& key : auth.keys) match |= !key.empty() && ConstantTimeEquals(*credential, key);
    return match ? absl::OkStatus() : absl::UnauthenticatedError("the key is not one of the service's keys");
  }

  // "/api/v1/service/{name}{action}" split into name and action ("/score", "/swagger.json", ...).
  static std::pair<std::string, absl::string_view> ServicePath(absl::string_view path) {
    absl::string_view rest = path.substr(kServicePrefix.size());
    size_t slash = rest.find('/');
    return {std::string(rest.substr(0, slash)), slash == absl::string_view::npos ? "" : rest.substr(slash)};
  }

  // The service and action a path addresses: "/api/v1/service/{name}{action}", or "/score" and
  // "/swagger.json" of the table's root endpoint (a container group's one service); nullopt for other paths.
  std::optional<std::pair<std::string, std::string>> ServiceTarget(absl::string_view path) {
    if (absl::StartsWith(path, kServicePrefix)) {
      auto [name, action] = ServicePath(path);
      return std::make_pair(std::move(name), std::string(action));
    }
    if (path != "/score" && path != "/swagger.json") return std::nullopt;
    std::lock_guard guard(mu);
    if (routes.root_endpoint.empty()) return std::nullopt;
    return std::make_pair(routes.root_endpoint, std::string(path));
  }

  static http::Response ServiceNotFound(const std::string& name) {
    return FrontEndMessage(404, absl::StrCat("Service ", name, " not found."));
  }

  static http::Response ServiceUnauthorized(const ServiceEntry& entry, const std::string& name,
                                            const absl::Status& why) {
    const char* expected = entry.route.auth.mode == domain::AuthMode::kToken
                               ? "a token from get_access_token()"
                               : "one of its keys (get_keys())";
    return FrontEndMessage(401, absl::StrCat("Authorization failed: service ", name, ": ", why.message(),
                                             ". It expects 'Authorization: Bearer <credential>' with ", expected,
                                             "."));
  }

  static http::Response AdminUnauthorized() {
    return FrontEndMessage(401,
                           "The admin interface and /metrics need 'Authorization: Bearer <admin token>' (the "
                           "cluster's admin_token file).");
  }

  // With SSL on, a service's requests (and the keys or tokens they carry) travel over HTTPS only; the same port
  // still answers plain HTTP for health checks, and the admin interface and amlcored's probes on loopback.
  std::optional<http::Response> RefusePlainScoring(const http::Request& request, const std::string& name) const {
    if (request.tls || tls_fingerprint.load()->empty() || AdminAuthorized(request)) return std::nullopt;
    return FrontEndMessage(403, absl::StrCat("Service ", name, " is served over HTTPS on this cluster (SSL is "
                                             "enabled); use its https:// scoring URI."));
  }

  // Refuses a request on its head alone (unknown service, missing or wrong credential) before its body is
  // read, so that nobody without a key or the admin token makes the front end buffer anything. nullopt
  // lets the request through to Handle, which checks again.
  std::optional<http::Response> CheckHead(const http::Request& head) {
    auto refusal = RefusalOnHead(head);
    if (refusal) AccountRefusal(head.path(), refusal->status, &head);
    return refusal;
  }

  std::optional<http::Response> RefusalOnHead(const http::Request& head) {
    absl::string_view path = head.path();
    if (absl::StartsWith(path, "/admin/") || path == "/metrics") {
      return AdminAuthorized(head) ? std::nullopt : std::optional<http::Response>(AdminUnauthorized());
    }
    auto target = ServiceTarget(path);
    if (!target) return std::nullopt;
    const auto& [name, action] = *target;
    auto entry = Find(name);
    if (!entry) return ServiceNotFound(name);
    if (action == "/score" || action == "/swagger.json") {
      if (auto refused = RefusePlainScoring(head, name)) return refused;
      if (auto s = Authorize(*entry, head, action); !s.ok()) return ServiceUnauthorized(*entry, name, s);
    }
    return std::nullopt;
  }

  void HandleService(http::Request request, http::Responder reply) {
    auto exchange = std::make_shared<Exchange>();
    exchange->method = request.method;
    exchange->path = std::string(request.path());
    reply = http::Observed(std::move(reply), [this, exchange](http::Response& r) { Account(*exchange, r.status); });
    auto target = ServiceTarget(request.path());
    if (!target) return std::move(reply)(FrontEndMessage(404, absl::StrCat("No resource at ", request.path(), ".")));
    const auto& [name, action] = *target;
    auto entry = Find(name);
    if (!entry) return std::move(reply)(ServiceNotFound(name));
    exchange->service = name;
    if (action != "/score" && action != "/swagger.json") {
      return std::move(reply)(FrontEndMessage(404, absl::StrCat("No resource at ", request.path(), ".")));
    }
    if (auto refused = RefusePlainScoring(request, name)) return std::move(reply)(std::move(*refused));
    if (auto s = Authorize(*entry, request, action); !s.ok()) {
      return std::move(reply)(ServiceUnauthorized(*entry, name, s));
    }
    exchange->probe = AdminAuthorized(request);
    // The replica serves swagger.json without a credential; the admin token in particular must not reach a
    // process that runs a user's script.
    if (action == "/swagger.json") request.headers = WithoutAuthorization(request.headers);
    std::string query(request.query());
    request.target = absl::StrCat(action, query.empty() ? "" : "?", query);
    if (!request.headers.Get("x-request-id")) request.headers.Set("x-request-id", RequestId());
    exchange->request_id = std::string(*request.headers.Get("x-request-id"));
    std::shared_ptr<VersionDispatcher> dispatcher;
    if (auto pinned = request.headers.Get("azureml-model-deployment")) {
      dispatcher = PinnedVersion(*entry, *pinned);
      if (!dispatcher) {
        std::vector<std::string> names;
        for (const auto& v : entry->route.versions) names.push_back(v.name);
        return std::move(reply)(FrontEndMessage(
            404, absl::StrCat("Service ", name, " has no version ", *pinned, " (azureml-model-deployment); its ",
                              "versions are ", absl::StrJoin(names, ", "), ".")));
      }
    } else {
      dispatcher = ChooseVersion(*entry);
    }
    if (!dispatcher) {
      return std::move(reply)(FrontEndMessage(503, absl::StrCat("No ready replicas for service ", name)));
    }
    exchange->dispatcher = dispatcher;
    dispatcher->Submit(std::move(request), std::move(reply));
  }

  // Serves `tls` from now on: new connections get the new certificate, open ones keep theirs.
  absl::Status ServeTls(const local::FrontEndTls& tls) {
    std::optional<http::TlsConfig> config;
    if (!tls.empty()) config = http::TlsConfig{tls.certificate_pem, tls.private_key_pem};
    if (auto s = server->SetTls(std::move(config)); !s.ok()) return s;
    tls_fingerprint.store(std::make_shared<const std::string>(tls.Fingerprint()));
    return absl::OkStatus();
  }

  void HandleAdmin(http::Request request, http::Responder reply) {
    if (!AdminAuthorized(request)) return std::move(reply)(AdminUnauthorized());
    absl::string_view path = request.path();
    auto ok = [&](const json::bj::value& body) { std::move(reply)(http::Response::Json(200, json::Serialize(body))); };
    // In Kubernetes the cluster's objects are the one source of what to serve.
    if (options.kubernetes && request.method != "GET") {
      return std::move(reply)(FrontEndMessage(
          409, "This router reads its routes and workloads from Kubernetes objects; write those instead."));
    }
    if (path == "/admin/routes" && request.method == "PUT") {
      auto table = json::DecodeText<domain::RouteTable>(request.body, "Route table");
      if (!table.ok()) return std::move(reply)(FrontEndMessage(400, table.status().message()));
      std::lock_guard admin(admin_mu);
      {
        std::lock_guard guard(mu);
        if (table->generation < routes.generation) {
          return std::move(reply)(FrontEndMessage(
              409, absl::StrCat("Route table generation ", table->generation, " is older than the current ",
                                routes.generation, ".")));
        }
      }
      (void)WriteFileAtomic(absl::StrCat(options.cluster_directory, "/", local::kRoutesFile), request.body, 0600);
      int64_t generation = table->generation;
      ApplyRoutes(std::move(*table));
      return ok(json::bj::object{{"generation", generation}});
    }
    if (absl::StartsWith(path, kWorkloadsPrefix)) {
      std::string name(path.substr(kWorkloadsPrefix.size()));
      if (request.method == "PUT") {
        auto workload = json::DecodeText<local::LocalWorkload>(request.body, "Workload");
        if (!workload.ok()) return std::move(reply)(FrontEndMessage(400, workload.status().message()));
        if (workload->key.Name() != name) {
          return std::move(reply)(FrontEndMessage(
              400, absl::StrCat("Workload ", workload->key.Name(), " was sent to ", path, ".")));
        }
        PutWorkload(std::move(*workload));
        return ok(json::bj::object{{"workload", name}});
      }
      if (request.method == "DELETE") {
        RemoveWorkload(name);
        return ok(json::bj::object{{"workload", name}});
      }
      return std::move(reply)(FrontEndMessage(405, "Use PUT or DELETE on a workload."));
    }
    if (path == "/admin/workloads" && request.method == "GET") {
      return ok(json::Encode(local::WorkloadsReport{supervisor->Status()}));
    }
    if (path == "/admin/tls" && request.method == "PUT") {
      auto tls = json::DecodeText<local::FrontEndTls>(request.body, "TLS configuration");
      if (!tls.ok()) return std::move(reply)(FrontEndMessage(400, tls.status().message()));
      if (auto s = ServeTls(*tls); !s.ok()) return std::move(reply)(FrontEndMessage(400, s.message()));
      return ok(json::bj::object{{"tls", json::Bj(tls->Fingerprint())}});
    }
    if (path == "/admin/status" && request.method == "GET") {
      local::FrontEndStatus status{local::kFrontEndApiVersion, static_cast<int64_t>(getpid()), 0, options.cluster_id,
                                   *tls_fingerprint.load()};
      {
        std::lock_guard guard(mu);
        status.route_generation = routes.generation;
      }
      return ok(json::Encode(status));
    }
    return std::move(reply)(FrontEndMessage(404, absl::StrCat("No admin resource ", request.method, " ", path)));
  }

  std::string Metrics() {
    std::map<std::string, std::shared_ptr<VersionDispatcher>> all;
    {
      std::lock_guard guard(mu);
      all = dispatchers;
    }
    std::set<std::string> autoscaled;
    {
      std::lock_guard guard(autoscale_mu);
      for (const auto& [name, workload] : scaled) autoscaled.insert(name);
    }
    // Every workload the supervisor runs, failing ones included, with its dispatcher when it has one.
    std::vector<domain::VersionObservation> versions = supervisor->Status();
    std::erase_if(versions, [](const auto& v) { return v.removed; });
    auto labels = [](const std::string& service, const std::string& version) {
      return prometheus::Labels{{"service", service}, {"version", version}};
    };
    auto with = [](prometheus::Labels labels, const char* name, std::string value) {
      labels.emplace_back(name, std::move(value));
      return labels;
    };
    prometheus::TextWriter out;
    out.Family("amlcore_fe_requests_total", prometheus::kCounter,
               "Service requests answered (score and swagger.json), by service, version and status code. version "
               "is \"\" for requests refused before a version was chosen, service \"\" for names the cluster does "
               "not serve. The workspace server's probes are counted in amlcore_fe_probe_requests_total.");
    for (const auto& [name, d] : all) {
      for (const auto& [code, n] : d->metrics().responses.NonZero()) {
        out.Sample(with(labels(d->service(), d->version()), "code", absl::StrCat(code)), n);
      }
    }
    for (const auto& [values, n] : refused.Snapshot()) {
      out.Sample(with(labels(values[0], ""), "code", values[1]), n);
    }
    out.Family("amlcore_fe_probe_requests_total", prometheus::kCounter,
               "The workspace server's readiness probes through the front end, by service, version and status code.");
    for (const auto& [name, d] : all) {
      for (const auto& [code, n] : d->metrics().probe_responses.NonZero()) {
        out.Sample(with(labels(d->service(), d->version()), "code", absl::StrCat(code)), n);
      }
    }
    out.Family("amlcore_fe_other_requests_total", prometheus::kCounter,
               "Requests for anything but a service, by handler (health, metrics, admin; \"\" for unknown paths and "
               "requests refused before their path was read) and status code.");
    for (const auto& [values, n] : other_requests.Snapshot()) {
      out.Sample(prometheus::Zip({"handler", "code"}, values), n);
    }
    out.Family("amlcore_fe_request_duration_seconds", prometheus::kHistogram,
               "Time from a service request's arrival to its answer, by service and version.");
    for (const auto& [name, d] : all) out.Sample(labels(d->service(), d->version()), d->metrics().latency);
    out.Family("amlcore_fe_replica_request_duration_seconds", prometheus::kHistogram,
               "Time from sending a request to a replica to its answer, by service, version and replica.");
    for (const auto& [name, d] : all) {
      for (const auto& [replica, histogram] : d->ReplicaLatencies()) {
        out.Sample(with(labels(d->service(), d->version()), "replica", replica), *histogram);
      }
    }
    out.Family("amlcore_fe_rejected_requests_total", prometheus::kCounter,
               "Requests answered 503 without running, by service, version and reason: wait_expired (waited longer "
               "than max_request_wait_time), no_ready_replica.");
    for (const auto& [name, d] : all) {
      const VersionMetrics& m = d->metrics();
      out.Sample(with(labels(d->service(), d->version()), "reason", "wait_expired"), m.wait_expired.load());
      out.Sample(with(labels(d->service(), d->version()), "reason", "no_ready_replica"), m.no_ready_replica.load());
    }
    out.Family("amlcore_fe_request_timeouts_total", prometheus::kCounter,
               "Requests answered 504: no answer within scoring_timeout_ms, by service and version.");
    for (const auto& [name, d] : all) out.Sample(labels(d->service(), d->version()), d->metrics().timeouts.load());
    out.Family("amlcore_fe_inflight_requests", prometheus::kGauge, "Requests being served by replicas.");
    for (const auto& [name, d] : all) out.Sample(labels(d->service(), d->version()), d->TotalInflight());
    out.Family("amlcore_fe_queued_requests", prometheus::kGauge, "Requests waiting for a free replica.");
    for (const auto& [name, d] : all) out.Sample(labels(d->service(), d->version()), d->QueueDepth());
    out.Family("amlcore_fe_ready_replicas", prometheus::kGauge, "Replicas receiving traffic.");
    for (const auto& v : versions) {
      auto d = all.find(v.key.Name());
      out.Sample(labels(v.key.endpoint, v.key.version), d == all.end() ? 0 : d->second->ReadyBackends());
    }
    // Replica counts as the supervisor runs them: what each version should run now (its autoscaler's decision,
    // for an autoscaled one) and what its load asks for before the cluster's capacity limits it.
    out.Family("amlcore_fe_desired_replicas", prometheus::kGauge, "Replicas a version should run now.");
    for (const auto& v : versions) out.Sample(labels(v.key.endpoint, v.key.version), v.desired);
    out.Family("amlcore_fe_wanted_replicas", prometheus::kGauge,
               "Replicas an autoscaled version's load asks for, before the cluster's capacity limits it.");
    for (const auto& v : versions) {
      if (autoscaled.count(v.key.Name())) out.Sample(labels(v.key.endpoint, v.key.version), v.wanted);
    }
    out.Family("amlcore_fe_replica_restarts_total", prometheus::kCounter,
               "Replicas restarted, by service, version and the reason they stopped (Error, OOMKilled, "
               "LivenessProbeFailed, UserScriptInitFailed, ...).");
    for (const auto& [values, n] : supervisor->RestartCounts()) {
      out.Sample(prometheus::Zip({"service", "version", "reason"}, values), n);
    }
    prometheus::AppendProcessMetrics(out);
    return std::move(out).Text();
  }

  void Handle(http::Request request, http::Responder reply) {
    absl::string_view path = request.path();
    if (absl::StartsWith(path, kServicePrefix) || path == "/score" || path == "/swagger.json") {
      return HandleService(std::move(request), std::move(reply));
    }
    reply = http::Observed(std::move(reply), [this, handler = HandlerOf(path)](http::Response& r) {
      other_requests.Add({handler, absl::StrCat(r.status)});
    });
    if (path == "/") {
      if (request.method != "GET" && request.method != "HEAD") {
        return std::move(reply)(FrontEndMessage(405, "Method not allowed; use GET."));
      }
      return std::move(reply)(http::Response::Text(200, "Healthy"));
    }
    if (path == "/metrics") {
      // It names every service: for operators, who scrape it with the cluster's admin token.
      if (!AdminAuthorized(request)) return std::move(reply)(AdminUnauthorized());
      http::Response r = http::Response::Text(200, Metrics());
      r.headers.Set("Content-Type", prometheus::kContentType);
      return std::move(reply)(std::move(r));
    }
    if (absl::StartsWith(path, "/admin/")) return HandleAdmin(std::move(request), std::move(reply));
    return std::move(reply)(FrontEndMessage(404, absl::StrCat("No resource at ", path, ".")));
  }

  // A router in Kubernetes follows the API server: the route table, the versions, their ready pods.
  void KubernetesSyncLoop() {
    std::string last_error;
    while (!stopping) {
      absl::Status s = KubernetesSync();
      if (!s.ok() && std::string(s.message()) != last_error) logging::Warning(s.message());
      last_error = s.ok() ? "" : std::string(s.message());
      for (int i = 0; i < 20 && !stopping; ++i) std::this_thread::sleep_for(50ms);
    }
  }

  absl::Status KubernetesSync() {
    int64_t generation;
    {
      std::lock_guard guard(mu);
      generation = routes.generation;
    }
    auto table = kubernetes->NewerRoutes(generation);
    if (!table.ok()) return table.status();
    if (*table) {
      logging::Info(absl::StrCat("route table generation ", (*table)->generation));
      std::lock_guard admin(admin_mu);
      ApplyRoutes(std::move(**table));
    }
    auto listed = kubernetes->Workloads();
    if (!listed.ok()) return listed.status();
    std::set<std::string> names;
    for (auto& w : *listed) {
      names.insert(w.key.Name());
      bool changed = true;
      {
        std::lock_guard guard(mu);
        auto found = workloads.find(w.key.Name());
        changed = found == workloads.end() || found->second.revision != w.revision || found->second.count != w.count ||
                  found->second.max_concurrent_requests != w.max_concurrent_requests ||
                  found->second.allowed != w.allowed || json::EncodeText(found->second.autoscale) !=
                  json::EncodeText(w.autoscale);
      }
      if (changed) PutWorkload(std::move(w));
    }
    std::vector<std::string> gone;
    {
      std::lock_guard guard(mu);
      for (const auto& [name, w] : workloads) {
        if (!names.contains(name)) gone.push_back(name);
      }
    }
    for (const auto& name : gone) RemoveWorkload(name);
    return kubernetes->Refresh();
  }

  // Starts serving (HTTPS too when `tls` is set) and the expiry loop.
  absl::Status Listen(const std::optional<local::FrontEndTls>& tls);

  void ExpiryLoop() {
    auto next_sample = Clock::now();
    while (!stopping) {
      std::this_thread::sleep_for(10ms);
      // Load is sampled ten times a second; decisions are taken every refresh period.
      if (auto now = Clock::now(); now >= next_sample) {
        next_sample = now + 100ms;
        Autoscale(now);
      }
      std::vector<std::shared_ptr<VersionDispatcher>> all;
      {
        std::lock_guard guard(mu);
        for (const auto& [key, d] : dispatchers) all.push_back(d);
      }
      for (const auto& d : all) d->ExpireQueued();
    }
  }
};

int DefaultIoThreads() {
  cpu_set_t cpus;
  int cores = sched_getaffinity(0, sizeof(cpus), &cpus) == 0 ? CPU_COUNT(&cpus)
                                                             : static_cast<int>(std::thread::hardware_concurrency());
  return std::clamp(cores, 2, 8);
}

absl::StatusOr<std::unique_ptr<FrontEnd>> FrontEnd::Start(const FrontEndOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  if (impl->options.threads <= 0) impl->options.threads = DefaultIoThreads();
  const std::string& dir = options.cluster_directory;
  if (options.kubernetes) return StartInKubernetes(std::move(impl));
  if (dir.empty()) return absl::InvalidArgumentError("--cluster-dir is required");

  // Exactly one front end per cluster: the lock is held for the life of the process.
  std::string lock_path = absl::StrCat(dir, "/", local::kFrontEndLockFile);
  for (auto deadline = std::chrono::steady_clock::now() + 2s;; std::this_thread::sleep_for(20ms)) {
    auto lock = FileLock::TryAcquire(lock_path);
    if (lock.ok()) {
      impl->lock.emplace(std::move(*lock));
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) return lock.status();
  }
  auto token = ReadFile(absl::StrCat(dir, "/", local::kFrontEndTokenFile));
  if (!token.ok()) return token.status();
  impl->admin_token = std::string(absl::StripAsciiWhitespace(*token));

  impl->loop = std::make_unique<http::EventLoop>(impl->options.threads);
  impl->upstream = std::make_unique<http::UpstreamClient>(impl->loop.get());
  impl->supervisor = std::make_unique<ReplicaSupervisor>(local::ReplicasDirectory(dir), impl->upstream.get(),
                                                          options.home.empty() ? dir : options.home);
  // The last routes and workloads survive a restart; the replicas of those workloads are adopted. What cannot be
  // read (a file of an older front end) starts empty, and amlcored sends it again.
  if (auto saved = ReadFile(absl::StrCat(dir, "/", local::kRoutesFile)); saved.ok()) {
    if (auto table = json::DecodeText<domain::RouteTable>(*saved, local::kRoutesFile); table.ok()) {
      impl->ApplyRoutes(std::move(*table));
    }
  }
  if (auto saved = ReadFile(absl::StrCat(dir, "/", local::kWorkloadsFile)); saved.ok()) {
    if (auto list = json::DecodeText<SavedWorkloads>(*saved, local::kWorkloadsFile); list.ok()) {
      for (auto& w : list->workloads) impl->PutWorkload(std::move(w));
    }
  }
  std::optional<local::FrontEndTls> tls;
  if (auto saved = ReadFile(absl::StrCat(dir, "/", local::kFrontEndTlsFile)); saved.ok()) {
    auto parsed = json::DecodeText<local::FrontEndTls>(*saved, local::kFrontEndTlsFile);
    if (!parsed.ok()) return parsed.status();
    if (!parsed->empty()) tls = std::move(*parsed);
  }
  // Before the server listens: adopted replicas are routed by the time the first request arrives.
  impl->supervisor->Start();
  if (auto s = impl->Listen(tls); !s.ok()) return s;

  ProcessId self{getpid(), ProcessStartTime(getpid()).value_or(0)};
  json::bj::object info{{"pid", static_cast<int64_t>(self.pid)},
                        {"start_time", static_cast<int64_t>(self.start_time)},
                        {"port", static_cast<int64_t>(impl->server->port())}};
  if (auto s = WriteFileAtomic(absl::StrCat(dir, "/", local::kFrontEndInfoFile), json::Serialize(info));
      !s.ok()) {
    return s;
  }
  return std::unique_ptr<FrontEnd>(new FrontEnd(std::move(impl)));
}

absl::StatusOr<std::unique_ptr<FrontEnd>> FrontEnd::StartInKubernetes(std::unique_ptr<Impl> impl) {
  if (impl->options.admin_token.empty()) return absl::InvalidArgumentError("AMLCORE_ADMIN_TOKEN is not set");
  impl->admin_token = impl->options.admin_token;
  auto context = kubernetes::LoadInClusterContext();
  if (!context.ok()) return context.status();
  if (impl->options.namespace_name.empty()) impl->options.namespace_name = context->namespace_name;
  auto client = kubernetes::KubeClient::Create(
      std::move(*context),
      {.request_timeout = 5s, .retry = {.max_attempts = 2}, .field_manager = kubernetes::kRouterFieldManager});
  if (!client.ok()) return client.status();
  impl->loop = std::make_unique<http::EventLoop>(impl->options.threads);
  impl->upstream = std::make_unique<http::UpstreamClient>(impl->loop.get());
  auto replicas = std::make_unique<KubernetesReplicas>(std::move(*client), impl->options.namespace_name);
  impl->kubernetes = replicas.get();
  impl->supervisor = std::move(replicas);
  // Routes and ready replicas before the first request, when the API server answers.
  if (auto s = impl->KubernetesSync(); !s.ok()) logging::Warning(s.message());
  if (auto s = impl->Listen(std::nullopt); !s.ok()) return s;
  Impl* raw = impl.get();
  impl->kubernetes_sync = std::thread([raw] { raw->KubernetesSyncLoop(); });
  return std::unique_ptr<FrontEnd>(new FrontEnd(std::move(impl)));
}

absl::Status FrontEnd::Impl::Listen(const std::optional<local::FrontEndTls>& tls) {
  Impl* raw = this;
  auto server = http::Server::Start(
      http::ServerOptions{
          .host = options.host,
          .port = options.port,
          .make_error =
              [raw](int status, std::string message, absl::string_view target) {
                raw->AccountRefusal(http::Request{.target = std::string(target)}.path(), status);
                return FrontEndMessage(status, message);
              },
          .check_head = [raw](const http::Request& head) { return raw->CheckHead(head); },
          .loop = loop.get(),
      },
      [raw](http::Request request, http::Responder reply) { raw->Handle(std::move(request), std::move(reply)); });
  if (!server.ok()) return server.status();
  this->server = std::move(*server);
  if (tls) {
    if (auto s = ServeTls(*tls); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(local::kFrontEndTlsFile, ": ", s.message()));
    }
  }
  expiry = std::thread([raw] { raw->ExpiryLoop(); });
  return absl::OkStatus();
}

FrontEnd::FrontEnd(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FrontEnd::~FrontEnd() { Stop(); }
uint16_t FrontEnd::port() const { return impl_->server->port(); }
void FrontEnd::Stop() {
  if (impl_->stopping.exchange(true)) return;
  if (impl_->expiry.joinable()) impl_->expiry.join();
  if (impl_->kubernetes_sync.joinable()) impl_->kubernetes_sync.join();
  impl_->supervisor->Stop();
  if (impl_->server) impl_->server->Stop();
  // No handler runs after this; what they held is dropped with the loop, after everything else.
  impl_->loop->Stop();
}

}  // namespace amlcore::frontend
