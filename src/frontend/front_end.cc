#include "frontend/front_end.h"

#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "backend/local/local_backend.h"
#include "common/crypto.h"
#include "common/files.h"
#include "common/http_server.h"
#include "common/http_upstream.h"
#include "common/json.h"
#include "common/process.h"
#include "domain/route_table.h"
#include "frontend/dispatcher.h"
#include "frontend/supervisor.h"

namespace amlcore::frontend {
namespace {
using namespace std::chrono_literals;

constexpr char kRoutesFile[] = "routes.json";
constexpr absl::string_view kServicePrefix = "/api/v1/service/";

// What the request path needs of a service: its auth, limits and versions with their dispatchers.
struct ServiceEntry {
  domain::ServiceRoute route;
  std::vector<std::shared_ptr<VersionDispatcher>> dispatchers;  // same order as route.versions
};

std::string Label(absl::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
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
  std::unique_ptr<ReplicaSupervisor> supervisor;
  std::unique_ptr<http::Server> server;

  std::mutex mu;
  int64_t generation = 0;
  std::map<std::string, std::shared_ptr<ServiceEntry>> services;            // by service name
  std::map<std::string, std::shared_ptr<VersionDispatcher>> dispatchers;    // by "service/version"
  std::thread expiry;
  std::atomic<bool> stopping{false};

  bool AdminAuthorized(const http::Request& request) const {
    auto credential = http::BearerCredential(request.headers);
    return credential && ConstantTimeEquals(*credential, admin_token);
  }

  std::shared_ptr<ServiceEntry> Find(const std::string& name) {
    std::lock_guard guard(mu);
    auto it = services.find(name);
    return it == services.end() ? nullptr : it->second;
  }

  // Applies a route table: dispatchers are kept for versions that stay, so queued and in-flight requests
  // carry on; the supervisor gets the new desired replicas.
  void Apply(const domain::RouteTable& table) {
    std::vector<VersionTarget> targets;
    {
      std::lock_guard guard(mu);
      std::map<std::string, std::shared_ptr<ServiceEntry>> next_services;
      std::map<std::string, std::shared_ptr<VersionDispatcher>> next_dispatchers;
      for (const auto& route : table.services) {
        auto entry = std::make_shared<ServiceEntry>();
        entry->route = route;
        for (const auto& version : route.versions) {
          std::string key = absl::StrCat(route.name, "/", version.name);
          auto found = dispatchers.find(key);
          auto dispatcher = found != dispatchers.end()
                                ? found->second
                                : std::make_shared<VersionDispatcher>(route.name, version.name, upstream.get());
          dispatcher->SetLimits({.max_concurrent_per_replica = std::max(1, route.max_concurrent_requests_per_replica),
                                 .max_queue_wait = std::chrono::milliseconds(route.max_queue_wait_ms),
                                 .scoring_timeout = std::chrono::milliseconds(route.scoring_timeout_ms)});
          next_dispatchers[key] = dispatcher;
          entry->dispatchers.push_back(dispatcher);
          targets.push_back(VersionTarget{route.name, version.name, version.replicas, dispatcher});
        }
        next_services[route.name] = std::move(entry);
      }
      services = std::move(next_services);
      dispatchers = std::move(next_dispatchers);
      generation = table.generation;
    }
    supervisor->Apply(std::move(targets));
  }

  // Weighted choice among versions with ready replicas; the default version takes what others leave.
  std::shared_ptr<VersionDispatcher> ChooseVersion(const ServiceEntry& entry, const http::Request& request) {
    const auto& versions = entry.route.versions;
    if (auto pinned = request.headers.Get("azureml-model-deployment")) {
      for (size_t i = 0; i < versions.size(); ++i) {
        if (versions[i].name == *pinned) return entry.dispatchers[i];
      }
    }
    if (versions.size() == 1) return entry.dispatchers[0];
    int claimed = 0;
    for (const auto& v : versions) {
      if (!v.is_default) claimed += v.traffic_percentile;
    }
    std::vector<int> weights;
    int total = 0;
    for (size_t i = 0; i < versions.size(); ++i) {
      int w = versions[i].is_default ? std::max(0, 100 - claimed) : versions[i].traffic_percentile;
      if (entry.dispatchers[i]->ReadyBackends() == 0) w = 0;
      weights.push_back(w);
      total += w;
    }
    if (total == 0) {
      for (size_t i = 0; i < versions.size(); ++i) {
        if (versions[i].is_default) return entry.dispatchers[i];
      }
      return entry.dispatchers[0];
    }
    thread_local std::mt19937 random(std::random_device{}());
    int pick = std::uniform_int_distribution<int>(0, total - 1)(random);
    for (size_t i = 0; i < weights.size(); ++i) {
      if (pick < weights[i]) return entry.dispatchers[i];
      pick -= weights[i];
    }
    return entry.dispatchers.back();
  }

  bool Authorized(const ServiceEntry& entry, const http::Request& request) const {
    const auto& auth = entry.route.auth;
    if (auth.mode == "none") return true;
    auto credential = http::BearerCredential(request.headers);
    if (!credential) return false;
    if (auth.mode == "key") {
      bool match = false;
      for (const auto& key : auth.keys) match |= !key.empty() && ConstantTimeEquals(*credential, key);
      return match;
    }
    return false;
  }

  // "/api/v1/service/{name}{action}" split into name and action ("/score", "/swagger.json", ...).
  static std::pair<std::string, absl::string_view> ServicePath(absl::string_view path) {
    absl::string_view rest = path.substr(kServicePrefix.size());
    size_t slash = rest.find('/');
    return {std::string(rest.substr(0, slash)), slash == absl::string_view::npos ? "" : rest.substr(slash)};
  }

  static http::Response ServiceNotFound(const std::string& name) {
    return FrontEndMessage(404, absl::StrCat("Service ", name, " not found."));
  }

  static http::Response ServiceUnauthorized(const ServiceEntry& entry, const std::string& name) {
    const char* expected = entry.route.auth.mode == "token" ? "a token from get_token()" : "one of its keys";
    return FrontEndMessage(401, absl::StrCat("Authorization failed: service ", name,
                                             " expects 'Authorization: Bearer <credential>' with ", expected, "."));
  }

  static http::Response AdminUnauthorized() {
    return FrontEndMessage(401, "The admin interface needs 'Authorization: Bearer <admin token>'.");
  }

  // Refuses a request on its head alone (unknown service, missing or wrong credential) before its body is
  // read, so that nobody without a key or the admin token makes the front end buffer anything. nullopt
  // lets the request through to Handle, which checks again.
  std::optional<http::Response> CheckHead(const http::Request& head) {
    absl::string_view path = head.path();
    if (absl::StartsWith(path, "/admin/")) {
      return AdminAuthorized(head) ? std::nullopt : std::optional<http::Response>(AdminUnauthorized());
    }
    if (!absl::StartsWith(path, kServicePrefix)) return std::nullopt;
    auto [name, action] = ServicePath(path);
    auto entry = Find(name);
    if (!entry) return ServiceNotFound(name);
    if (action == "/score" && !Authorized(*entry, head)) return ServiceUnauthorized(*entry, name);
    return std::nullopt;
  }

  void HandleService(http::Request request, http::Responder reply) {
    auto [name, action] = ServicePath(request.path());
    auto entry = Find(name);
    if (!entry) return std::move(reply)(ServiceNotFound(name));
    if (action != "/score" && action != "/swagger.json") {
      return std::move(reply)(FrontEndMessage(404, absl::StrCat("No resource at ", request.path(), ".")));
    }
    if (action == "/score" && !Authorized(*entry, request)) {
      return std::move(reply)(ServiceUnauthorized(*entry, name));
    }
    std::string query(request.query());
    request.target = absl::StrCat(action, query.empty() ? "" : "?", query);
    if (!request.headers.Get("x-request-id")) request.headers.Set("x-request-id", RequestId());
    ChooseVersion(*entry, request)->Submit(std::move(request), std::move(reply));
  }

  void HandleAdmin(http::Request request, http::Responder reply) {
    if (!AdminAuthorized(request)) return std::move(reply)(AdminUnauthorized());
    absl::string_view path = request.path();
    if (path == "/admin/routes" && request.method == "PUT") {
      auto table = domain::RouteTableFromJson(request.body);
      if (!table.ok()) return std::move(reply)(FrontEndMessage(400, table.status().message()));
      {
        std::lock_guard guard(mu);
        if (table->generation < generation) {
          return std::move(reply)(FrontEndMessage(
              409, absl::StrCat("Route table generation ", table->generation, " is older than the current ", generation,
                                ".")));
        }
      }
      (void)WriteFileAtomic(absl::StrCat(options.cluster_directory, "/", kRoutesFile), request.body, 0600);
      Apply(*table);
      return std::move(reply)(
          http::Response::Json(200, json::Serialize(json::bj::object{{"generation", table->generation}})));
    }
    if (path == "/admin/replicas" && request.method == "GET") {
      domain::FrontEndStatus status = supervisor->Status();
      {
        std::lock_guard guard(mu);
        status.generation = generation;
      }
      return std::move(reply)(http::Response::Json(200, domain::FrontEndStatusToJson(status)));
    }
    if (path == "/admin/status" && request.method == "GET") {
      std::lock_guard guard(mu);
      json::bj::object status{{"cluster", options.cluster_id},
                              {"pid", static_cast<int64_t>(getpid())},
                              {"routeGeneration", generation}};
      return std::move(reply)(http::Response::Json(200, json::Serialize(status)));
    }
    return std::move(reply)(FrontEndMessage(404, absl::StrCat("No admin resource ", request.method, " ", path)));
  }

  std::string Metrics() {
    std::vector<std::shared_ptr<VersionDispatcher>> all;
    {
      std::lock_guard guard(mu);
      for (const auto& [key, d] : dispatchers) all.push_back(d);
    }
    std::string out =
        "# HELP amlcore_fe_requests_total Scoring requests answered, by status class.\n"
        "# TYPE amlcore_fe_requests_total counter\n";
    for (const auto& d : all) {
      for (int c = 1; c <= 5; ++c) {
        absl::StrAppend(&out, "amlcore_fe_requests_total{service=\"", Label(d->service()), "\",version=\"",
                        Label(d->version()), "\",code=\"", c, "xx\"} ", d->metrics().by_class[c].load(), "\n");
      }
    }
    absl::StrAppend(&out,
                    "# HELP amlcore_fe_errors_total Scoring requests answered with a 5xx status.\n"
                    "# TYPE amlcore_fe_errors_total counter\n");
    for (const auto& d : all) {
      absl::StrAppend(&out, "amlcore_fe_errors_total{service=\"", Label(d->service()), "\",version=\"",
                      Label(d->version()), "\"} ", d->metrics().by_class[5].load(), "\n");
    }
    absl::StrAppend(&out,
                    "# HELP amlcore_fe_request_duration_seconds Time from arrival to answer.\n"
                    "# TYPE amlcore_fe_request_duration_seconds histogram\n");
    for (const auto& d : all) {
      auto& m = d->metrics();
      std::string labels = absl::StrCat("service=\"", Label(d->service()), "\",version=\"", Label(d->version()), "\"");
      uint64_t cumulative = 0;
      for (size_t i = 0; i < VersionMetrics::kBucketsMs.size(); ++i) {
        cumulative += m.latency_buckets[i].load();
        absl::StrAppend(&out, "amlcore_fe_request_duration_seconds_bucket{", labels, ",le=\"",
                        VersionMetrics::kBucketsMs[i] / 1000.0, "\"} ", cumulative, "\n");
      }
      cumulative += m.latency_buckets.back().load();
      absl::StrAppend(&out, "amlcore_fe_request_duration_seconds_bucket{", labels, ",le=\"+Inf\"} ", cumulative, "\n");
      absl::StrAppend(&out, "amlcore_fe_request_duration_seconds_sum{", labels, "} ",
                      m.latency_sum_us.load() / 1e6, "\n");
      absl::StrAppend(&out, "amlcore_fe_request_duration_seconds_count{", labels, "} ", m.requests.load(), "\n");
    }
    for (const auto& [name, help] : std::vector<std::pair<std::string, std::string>>{
             {"amlcore_fe_inflight_requests", "Requests being served by replicas."},
             {"amlcore_fe_queued_requests", "Requests waiting for a free replica."},
             {"amlcore_fe_ready_replicas", "Replicas receiving traffic."}}) {
      absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " gauge\n");
      for (const auto& d : all) {
        int value = name == "amlcore_fe_inflight_requests" ? d->TotalInflight()
                    : name == "amlcore_fe_queued_requests"  ? d->QueueDepth()
                                                            : d->ReadyBackends();
        absl::StrAppend(&out, name, "{service=\"", Label(d->service()), "\",version=\"", Label(d->version()), "\"} ",
                        value, "\n");
      }
    }
    return out;
  }

  void Handle(http::Request request, http::Responder reply) {
    absl::string_view path = request.path();
    if (absl::StartsWith(path, kServicePrefix)) return HandleService(std::move(request), std::move(reply));
    if (path == "/") {
      if (request.method != "GET" && request.method != "HEAD") {
        return std::move(reply)(FrontEndMessage(405, "Method not allowed; use GET."));
      }
      return std::move(reply)(http::Response::Text(200, "Healthy"));
    }
    if (path == "/metrics") {
      http::Response r = http::Response::Text(200, Metrics());
      r.headers.Set("Content-Type", "text/plain; version=0.0.4");
      return std::move(reply)(std::move(r));
    }
    if (absl::StartsWith(path, "/admin/")) return HandleAdmin(std::move(request), std::move(reply));
    return std::move(reply)(FrontEndMessage(404, absl::StrCat("No resource at ", path, ".")));
  }

  void ExpiryLoop() {
    while (!stopping) {
      std::this_thread::sleep_for(10ms);
      std::vector<std::shared_ptr<VersionDispatcher>> all;
      {
        std::lock_guard guard(mu);
        for (const auto& [key, d] : dispatchers) all.push_back(d);
      }
      for (const auto& d : all) d->ExpireQueued();
    }
  }
};

absl::StatusOr<std::unique_ptr<FrontEnd>> FrontEnd::Start(const FrontEndOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  const std::string& dir = options.cluster_directory;
  if (dir.empty()) return absl::InvalidArgumentError("--cluster-dir is required");

  // Exactly one front end per cluster: the lock is held for the life of the process.
  std::string lock_path = absl::StrCat(dir, "/", backend::kFrontEndLockFile);
  for (auto deadline = std::chrono::steady_clock::now() + 2s;; std::this_thread::sleep_for(20ms)) {
    auto lock = FileLock::TryAcquire(lock_path);
    if (lock.ok()) {
      impl->lock.emplace(std::move(*lock));
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) return lock.status();
  }
  auto token = ReadFile(absl::StrCat(dir, "/", backend::kFrontEndTokenFile));
  if (!token.ok()) return token.status();
  impl->admin_token = std::string(absl::StripAsciiWhitespace(*token));

  impl->loop = std::make_unique<http::EventLoop>(options.threads);
  impl->upstream = std::make_unique<http::UpstreamClient>(impl->loop.get());
  impl->supervisor = std::make_unique<ReplicaSupervisor>(absl::StrCat(dir, "/replicas"));
  // The last route table survives a restart; replicas it names are adopted.
  if (auto saved = ReadFile(absl::StrCat(dir, "/", kRoutesFile)); saved.ok()) {
    if (auto table = domain::RouteTableFromJson(*saved); table.ok()) impl->Apply(*table);
  }
  Impl* raw = impl.get();
  auto server = http::Server::Start(
      http::ServerOptions{
          .host = options.host,
          .port = options.port,
          .make_error = [](int status, std::string message) { return FrontEndMessage(status, message); },
          .check_head = [raw](const http::Request& head) { return raw->CheckHead(head); },
          .loop = impl->loop.get(),
      },
      [raw](http::Request request, http::Responder reply) { raw->Handle(std::move(request), std::move(reply)); });
  if (!server.ok()) return server.status();
  impl->server = std::move(*server);
  impl->expiry = std::thread([raw] { raw->ExpiryLoop(); });
  impl->supervisor->Start();

  ProcessId self{getpid(), ProcessStartTime(getpid()).value_or(0)};
  json::bj::object info{{"pid", static_cast<int64_t>(self.pid)},
                        {"start_time", static_cast<int64_t>(self.start_time)},
                        {"port", static_cast<int64_t>(impl->server->port())}};
  if (auto s = WriteFileAtomic(absl::StrCat(dir, "/", backend::kFrontEndInfoFile), json::Serialize(info));
      !s.ok()) {
    return s;
  }
  return std::unique_ptr<FrontEnd>(new FrontEnd(std::move(impl)));
}

FrontEnd::FrontEnd(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FrontEnd::~FrontEnd() { Stop(); }
uint16_t FrontEnd::port() const { return impl_->server->port(); }
void FrontEnd::Stop() {
  if (impl_->stopping.exchange(true)) return;
  if (impl_->expiry.joinable()) impl_->expiry.join();
  impl_->supervisor->Stop();
  if (impl_->server) impl_->server->Stop();
  // No handler runs after this; what they held is dropped with the loop, after everything else.
  impl_->loop->Stop();
}

}  // namespace amlcore::frontend
