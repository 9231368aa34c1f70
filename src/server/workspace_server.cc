#include "server/workspace_server.h"

#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "amlcore/version.h"
#include "backend/cluster_dispatch.h"
#include "backend/kubernetes/kubernetes_backend.h"
#include "backend/local/local_backend.h"
#include "common/blob_store.h"
#include "common/crypto.h"
#include "common/environment_config.h"
#include "common/files.h"
#include "common/http_server.h"
#include "common/json.h"
#include "common/log.h"
#include "common/process.h"
#include "server/change_notifier.h"
#include "server/cluster_controller.h"
#include "server/compute_service.h"
#include "server/controller_queue.h"
#include "server/database.h"
#include "server/model_service.h"
#include "server/operations.h"
#include "server/rest_api.h"
#include "server/route_publisher.h"
#include "server/service_controller.h"
#include "server/store.h"
#include "server/webservice_service.h"
#include "server/workspace_service.h"

namespace amlcore::server {

std::string DefaultHome() { return EnvironmentConfig::Load().home; }

struct WorkspaceServer::Impl {
  WorkspaceServerOptions options;
  std::optional<FileLock> lock;
  std::string admin_token;
  std::unique_ptr<Database> db;
  std::unique_ptr<Store> store;
  std::unique_ptr<BlobStore> blobs;
  std::unique_ptr<backend::local::LocalBackend> local;
  std::unique_ptr<kubernetes::KubernetesBackend> kubernetes;
  std::unique_ptr<backend::ClusterDispatch> dispatch;
  backend::Backend backend;
  std::unique_ptr<ChangeNotifier> notifier;
  std::unique_ptr<ControllerQueue> controllers;
  std::unique_ptr<Operations> operations;
  std::unique_ptr<TokenAuthority> tokens;
  std::unique_ptr<RoutePublisher> routes;
  std::unique_ptr<ServiceController> service_controller;
  std::unique_ptr<ClusterController> cluster_controller;
  std::unique_ptr<ComputeService> computes;
  std::unique_ptr<WorkspaceService> workspaces;
  std::unique_ptr<WebserviceService> webservices;
  std::unique_ptr<ModelService> models;
  std::unique_ptr<DataService> data;
  std::unique_ptr<RestApi> api;
  std::unique_ptr<http::Server> http;
  std::thread resync;
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::once_flag stopped;

  // Every resource with work left: operations that run, services being deleted, and every cluster.
  void EnqueueClusters() {
    std::vector<int64_t> ids;
    (void)store->db().Read([&](Tx& tx) -> absl::Status {
      auto clusters = store->ListClusters(tx);
      if (clusters.ok()) {
        for (const auto& c : *clusters) ids.push_back(c.id);
      }
      return absl::OkStatus();
    });
    for (int64_t id : ids) controllers->Enqueue({kClusterKind, id});
  }

  void EnqueueAll() {
    std::vector<ResourceKey> keys;
    (void)store->db().Read([&](Tx& tx) -> absl::Status {
      auto ops = store->UnfinishedOperations(tx);
      if (ops.ok()) {
        for (const auto& op : *ops) keys.push_back({op.resource_kind, op.resource_id});
      }
      auto clusters = store->ListClusters(tx);
      if (clusters.ok()) {
        for (const auto& c : *clusters) keys.push_back({kClusterKind, c.id});
      }
      return absl::OkStatus();
    });
    for (const auto& key : keys) controllers->Enqueue(key);
  }

  // Removes the blobs nothing refers to any more (models and services deleted).
  void CollectBlobs() {
    std::set<std::string> referenced;
    auto read = store->db().Read([&](Tx& tx) -> absl::Status {
      auto found = store->ReferencedBlobs(tx);
      if (!found.ok()) return found.status();
      referenced = std::move(*found);
      return absl::OkStatus();
    });
    if (!read.ok()) return;
    BlobStore::Collected collected = blobs->CollectGarbage(referenced, options.blob_grace);
    if (collected.blobs > 0) {
      logging::Info(absl::StrCat("removed ", collected.blobs, " unused blobs (", collected.bytes, " bytes)"));
    }
  }

  // Clusters are reconciled periodically: that is how a front end that died is restarted, and how services
  // learn that their replicas crashed. Unused blobs are collected less often.
  void ResyncLoop() {
    std::unique_lock lock(mu);
    auto next_collection = std::chrono::steady_clock::now() + options.blob_collection_interval;
    while (!stopping) {
      cv.wait_for(lock, std::min(options.reconcile_interval, options.blob_collection_interval),
                  [&] { return stopping; });
      if (stopping) break;
      lock.unlock();
      // Rotated or expired token keys reach the routers through the cluster reconciles below.
      if (auto changed = tokens->Maintain(); !changed.ok()) {
        logging::Error(absl::StrCat("token keys: ", changed.status().ToString()));
      }
      if (std::chrono::steady_clock::now() >= next_collection) {
        CollectBlobs();
        next_collection = std::chrono::steady_clock::now() + options.blob_collection_interval;
      }
      EnqueueClusters();
      lock.lock();
    }
  }
};

namespace {
// A program that ships next to amlcored: `configured` (by option, else by environment), else found beside the
// running executable.
std::string FindProgram(const std::string& configured, const char* name) {
  if (!configured.empty()) return configured;
  for (const std::string& dir : {SelfExecutableDirectory(), DirectoryContaining(reinterpret_cast<void*>(&DefaultHome))}) {
    std::string candidate = absl::StrCat(dir, "/", name);
    if (std::filesystem::exists(candidate)) return candidate;
  }
  return name;
}

// The amlcore package scoring replicas may import: in a wheel amlcored lives in amlcore/bin, in the build tree
// the package is assembled in <build>/python/amlcore.
std::string FindPythonPackage() {
  if (std::string configured = EnvironmentConfig::Load().python_package; !configured.empty()) return configured;
  namespace fs = std::filesystem;
  for (const std::string& dir : {SelfExecutableDirectory(), DirectoryContaining(reinterpret_cast<void*>(&DefaultHome))}) {
    for (const fs::path& candidate : {fs::path(dir).parent_path(), fs::path(dir).parent_path() / "python" / "amlcore"}) {
      if (candidate.filename() == "amlcore" && fs::exists(candidate / "__init__.py")) return candidate.string();
    }
  }
  return "";
}

// <home>/runtime/python holds what replicas import besides their environment: amlcore itself and the azureml
// and inference_schema modules it stands in for.
std::vector<std::string> PrepareReplicaPythonPath(const std::string& home) {
  namespace fs = std::filesystem;
  std::string package = FindPythonPackage();
  if (package.empty()) {
    logging::Warning("the amlcore Python package was not found; replicas cannot import amlcore");
    return {};
  }
  fs::path dir = fs::path(home) / "runtime" / "python";
  std::error_code ec;
  fs::create_directories(dir, ec);
  for (const auto& [name, target] : std::vector<std::pair<std::string, fs::path>>{
           {"amlcore", package},
           {"azureml", fs::path(package) / "_shims" / "azureml"},
           {"inference_schema", fs::path(package) / "_shims" / "inference_schema"}}) {
    fs::remove(dir / name, ec);
    if (fs::exists(target)) fs::create_directory_symlink(target, dir / name, ec);
  }
  return {dir.string()};
}
}  // namespace

namespace {
// <home>/server.json: where this server answers, its token, and which process it is.
absl::Status WriteServerFile(const std::string& home, const std::string& host, uint16_t port,
                             const std::string& token) {
  json::bj::object info{{"endpoint", absl::StrCat("http://", host, ":", port)},
                        {"token", token},
                        {"pid", static_cast<int64_t>(getpid())},
                        {"start_time", static_cast<int64_t>(ProcessStartTime(getpid()).value_or(0))}};
  return WriteFileAtomic(absl::StrCat(home, "/", kServerFile), json::Serialize(info), 0600);
}

ProcessId ProcessIn(const std::string& file) {
  auto text = ReadFile(file);
  if (!text.ok()) return {};
  auto object = json::ParseObject(*text, file);
  if (!object.ok()) return {};
  return {static_cast<pid_t>(json::GetInt(*object, "pid")), static_cast<uint64_t>(json::GetInt(*object, "start_time"))};
}
}  // namespace

absl::StatusOr<std::string> StopHome(std::string home, bool with_clusters) {
  if (home.empty()) home = DefaultHome();
  std::string report;
  ProcessId server = ProcessIn(absl::StrCat(home, "/", kServerFile));
  std::string lock = absl::StrCat(home, "/", kServerLockFile);
  if (IsRunning(server)) {
    if (auto s = Terminate(server, std::chrono::seconds(10)); !s.ok()) return s;
    absl::StrAppend(&report, "stopped the server of ", home, " (pid ", server.pid, ")");
  } else if (auto holder = FileLock::Holder(lock)) {
    // server.json is gone, damaged or stale, but a server still holds the home: the lock names it.
    if (*holder == getpid() || ProgramName(*holder) != "amlcored") {
      return absl::FailedPreconditionError(absl::StrCat(
          "The home ", home, " is held (", lock, ") by process ", *holder, " (", ProgramName(*holder),
          "), which is not an amlcored this command may stop; stop that program instead."));
    }
    ProcessId held{*holder, ProcessStartTime(*holder).value_or(0)};
    if (auto s = Terminate(held, std::chrono::seconds(10)); !s.ok()) return s;
    absl::StrAppend(&report, "stopped the server of ", home, " (pid ", held.pid,
                    ", found by its lock: its server.json was missing or damaged)");
  } else {
    absl::StrAppend(&report, "no server is running for ", home);
  }
  if (!with_clusters) return report;
  auto [frontends, replicas] = backend::local::StopLocalProcesses(home);
  absl::StrAppend(&report, "; stopped ", frontends, " front end", frontends == 1 ? "" : "s", " and ", replicas,
                  " replica", replicas == 1 ? "" : "s");
  return report;
}

absl::StatusOr<std::unique_ptr<WorkspaceServer>> WorkspaceServer::Start(WorkspaceServerOptions options) {
  auto impl = std::make_unique<Impl>();
  if (options.home.empty()) options.home = DefaultHome();
  options.home = std::filesystem::absolute(options.home).lexically_normal().string();
  EnvironmentConfig environment = EnvironmentConfig::Load();
  options.frontend_program =
      FindProgram(options.frontend_program.empty() ? environment.frontend_program : options.frontend_program,
                  "amlcore-fe");
  options.scoring_program =
      FindProgram(options.scoring_program.empty() ? environment.scoring_program : options.scoring_program,
                  "amlcore-score");
  if (options.runtime_python.empty()) options.runtime_python = environment.runtime_python;
  impl->options = options;
  const std::string& home = impl->options.home;
  if (auto s = MakeDirectories(home, 0700); !s.ok()) return s;

  auto lock = FileLock::TryAcquire(absl::StrCat(home, "/", kServerLockFile));
  if (!lock.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("Another amlcored already serves ", home, "."));
  }
  impl->lock.emplace(std::move(*lock));

  std::string token_path = absl::StrCat(home, "/", kAdminTokenFile);
  if (auto token = ReadFile(token_path); token.ok() && !absl::StripAsciiWhitespace(*token).empty()) {
    impl->admin_token = std::string(absl::StripAsciiWhitespace(*token));
  } else {
    impl->admin_token = RandomToken();
    if (auto s = WriteFileAtomic(token_path, impl->admin_token, 0600); !s.ok()) return s;
  }

  auto db = Database::Open(absl::StrCat(home, "/", kDatabaseFile));
  if (!db.ok()) return db.status();
  impl->db = std::move(*db);
  impl->store = std::make_unique<Store>(impl->db.get());
  if (auto s = impl->store->Initialize(); !s.ok()) return s;

  impl->blobs = std::make_unique<BlobStore>(absl::StrCat(home, "/blobs"));
  if (impl->options.backend) {
    impl->backend = *impl->options.backend;
  } else {
    impl->local = std::make_unique<backend::local::LocalBackend>(backend::local::LocalBackendOptions{
        .home = home,
        .frontend_program = impl->options.frontend_program,
        .scoring_program = impl->options.scoring_program,
        .runtime_python = impl->options.runtime_python,
        .offline_environments = impl->options.offline_environments,
        .python_path = PrepareReplicaPythonPath(home),
        .blobs = impl->blobs.get()});
    impl->kubernetes = std::make_unique<kubernetes::KubernetesBackend>(kubernetes::KubernetesBackendOptions{
        .blobs = impl->blobs.get(), .default_image = absl::StrCat("amlcore/runtime:", kVersion)});
    impl->dispatch = std::make_unique<backend::ClusterDispatch>(impl->local->seams(), impl->kubernetes.get(),
                                                                impl->kubernetes.get());
    impl->backend = impl->dispatch->seams();
  }
  impl->notifier = std::make_unique<ChangeNotifier>();
  impl->controllers = std::make_unique<ControllerQueue>(impl->options.operation_threads);
  impl->operations =
      std::make_unique<Operations>(impl->store.get(), impl->notifier.get(), impl->controllers.get());
  impl->tokens = std::make_unique<TokenAuthority>(
      impl->store.get(), TokenAuthorityOptions{.lifetime = impl->options.token_lifetime,
                                               .rotation = impl->options.signing_key_rotation});
  if (auto s = impl->tokens->Initialize(); !s.ok()) return s;
  impl->routes = std::make_unique<RoutePublisher>(impl->store.get(), impl->backend.router, impl->tokens.get());
  impl->service_controller = std::make_unique<ServiceController>(
      impl->store.get(), impl->operations.get(), impl->backend, impl->routes.get(),
      ServiceController::Options{.initialize_timeout = impl->options.initialize_timeout});
  ServiceController* service_controller = impl->service_controller.get();
  impl->cluster_controller = std::make_unique<ClusterController>(impl->store.get(), impl->backend, impl->routes.get(),
                                                                 service_controller);
  impl->computes = std::make_unique<ComputeService>(
      impl->store.get(), impl->backend.workloads, impl->operations.get(),
      ComputeService::Options{.simulated_provisioning = impl->options.simulated_provisioning,
                              .certificate_authority_directory = absl::StrCat(home, "/", kCertificateAuthorityDirectory)},
      [service_controller](int64_t cluster_id) { service_controller->WakeWaiting(cluster_id); });
  impl->workspaces =
      std::make_unique<WorkspaceService>(impl->store.get(), impl->computes.get(), impl->controllers.get());
  impl->webservices =
      std::make_unique<WebserviceService>(impl->store.get(), impl->blobs.get(), impl->backend, impl->operations.get(),
                                          impl->routes.get(), service_controller, impl->tokens.get());
  WebserviceService* webservices = impl->webservices.get();
  impl->models = std::make_unique<ModelService>(
      impl->store.get(), impl->blobs.get(),
      [webservices](Tx& tx, int64_t workspace_id, const std::string& id) {
        return webservices->ServicesUsingModel(tx, workspace_id, id);
      });
  impl->data = std::make_unique<DataService>(impl->store.get(), impl->blobs.get());
  Impl* self = impl.get();
  impl->api = std::make_unique<RestApi>(
      impl->admin_token,
      RestApi::Services{impl->workspaces.get(), impl->computes.get(), impl->models.get(), impl->webservices.get(),
                        impl->operations.get(), impl->blobs.get(), impl->tokens.get(),
                        [self] { self->EnqueueClusters(); }, impl->data.get()});
  ComputeService* computes = impl->computes.get();
  ClusterController* clusters = impl->cluster_controller.get();
  impl->controllers->Register(ResourceKind::kCompute, [computes](int64_t id) { return computes->Reconcile(id); });
  impl->controllers->Register(ResourceKind::kService,
                              [service_controller](int64_t id) { return service_controller->Reconcile(id); });
  impl->controllers->Register(kClusterKind, [clusters](int64_t id) { return clusters->Reconcile(id); });
  if (auto s = impl->service_controller->RecordMissingReservations(); !s.ok()) return s;

  RestApi* api = impl->api.get();
  auto http = http::Server::Start(
      http::ServerOptions{.host = impl->options.host,
                          .port = impl->options.port,
                          .threads = impl->options.http_threads,
                          // Each route's policy runs on the head, before a body is read.
                          .check_head = [api](const http::Request& head) { return api->Admit(head); }},
      [api](http::Request request, http::Responder reply) { api->Handle(std::move(request), std::move(reply)); });
  if (!http.ok()) return http.status();
  impl->http = std::move(*http);

  if (impl->options.write_server_file) {
    if (auto s = WriteServerFile(home, impl->options.host, impl->http->port(), impl->admin_token); !s.ok()) return s;
  }
  impl->EnqueueAll();
  Impl* raw = impl.get();
  impl->resync = std::thread([raw] { raw->ResyncLoop(); });
  return std::unique_ptr<WorkspaceServer>(new WorkspaceServer(std::move(impl)));
}

absl::Status WorkspaceServer::PublishServerFile() const {
  return WriteServerFile(impl_->options.home, impl_->options.host, impl_->http->port(), impl_->admin_token);
}

WorkspaceServer::WorkspaceServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WorkspaceServer::~WorkspaceServer() { Stop(); }

uint16_t WorkspaceServer::port() const { return impl_->http->port(); }
std::string WorkspaceServer::endpoint() const {
  return absl::StrCat("http://", impl_->options.host, ":", impl_->http->port());
}
const std::string& WorkspaceServer::admin_token() const { return impl_->admin_token; }
const std::string& WorkspaceServer::home() const { return impl_->options.home; }

void WorkspaceServer::Stop() {
  std::call_once(impl_->stopped, [this] {
    {
      std::lock_guard lock(impl_->mu);
      impl_->stopping = true;
      impl_->cv.notify_all();
    }
    if (impl_->resync.joinable()) impl_->resync.join();
    impl_->controllers->Shutdown();
    impl_->notifier->Shutdown();  // answers pending long polls before the HTTP server goes
    impl_->http->Stop();
    if (impl_->options.write_server_file) {
      std::error_code ec;
      std::filesystem::remove(absl::StrCat(impl_->options.home, "/", kServerFile), ec);
    }
  });
}

}  // namespace amlcore::server
