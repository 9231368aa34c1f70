#include "frontend/front_end.h"

#include <unistd.h>

#include <atomic>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "backend/local/local_backend.h"
#include "common/crypto.h"
#include "common/files.h"
#include "common/http_server.h"
#include "common/json.h"
#include "common/process.h"

namespace amlcore::frontend {
namespace {
using namespace std::chrono_literals;

http::Response Message(int status, absl::string_view message) {
  return http::Response::Json(status, json::Serialize(json::bj::object{{"message", json::Bj(message)}}));
}
}  // namespace

struct FrontEnd::Impl {
  FrontEndOptions options;
  std::optional<FileLock> lock;
  std::string admin_token;
  std::unique_ptr<http::Server> server;
  std::atomic<int64_t> route_generation{0};

  bool Authorized(const http::Request& request) const {
    auto header = request.headers.Get("Authorization");
    absl::string_view value = header.value_or("");
    return absl::ConsumePrefix(&value, "Bearer ") && ConstantTimeEquals(value, admin_token);
  }

  void Handle(http::Request request, http::Responder reply) {
    absl::string_view path = request.path();
    if (path == "/") {
      if (request.method != "GET" && request.method != "HEAD") {
        return std::move(reply)(Message(405, "Method not allowed; use GET."));
      }
      return std::move(reply)(http::Response::Text(200, "Healthy"));
    }
    if (absl::StartsWith(path, "/admin/")) {
      if (!Authorized(request)) {
        return std::move(reply)(Message(401, "The admin interface needs 'Authorization: Bearer <admin token>'."));
      }
      if (path == "/admin/status" && request.method == "GET") {
        json::bj::object status{{"cluster", options.cluster_id},
                                {"pid", static_cast<int64_t>(getpid())},
                                {"routeGeneration", route_generation.load()}};
        return std::move(reply)(http::Response::Json(200, json::Serialize(status)));
      }
      return std::move(reply)(Message(404, absl::StrCat("No admin resource ", path)));
    }
    if (absl::StartsWith(path, "/api/v1/service/")) {
      absl::string_view rest = path.substr(absl::string_view("/api/v1/service/").size());
      absl::string_view name = rest.substr(0, rest.find('/'));
      return std::move(reply)(Message(404, absl::StrCat("Service ", name, " not found on this cluster.")));
    }
    return std::move(reply)(Message(404, absl::StrCat("No resource at ", path)));
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

  Impl* raw = impl.get();
  auto server = http::Server::Start(
      http::ServerOptions{
          .host = options.host,
          .port = options.port,
          .threads = options.threads,
          .make_error = [](int status, std::string message) { return Message(status, message); },
      },
      [raw](http::Request request, http::Responder reply) { raw->Handle(std::move(request), std::move(reply)); });
  if (!server.ok()) return server.status();
  impl->server = std::move(*server);

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
  if (impl_->server) impl_->server->Stop();
}

}  // namespace amlcore::frontend
