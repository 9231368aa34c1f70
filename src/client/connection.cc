#include "client/connection.h"

#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "amlcore/diagnostics.h"
#include "amlcore/version.h"
#include "common/crypto.h"
#include "common/environment_config.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/json.h"
#include "common/process.h"

namespace amlcore {
namespace {
std::mutex http_log_mu;
std::shared_ptr<const std::function<void(const HttpLogRecord&)>> http_log_hook;
}  // namespace

void SetHttpLogHook(std::function<void(const HttpLogRecord&)> hook) {
  std::lock_guard lock(http_log_mu);
  http_log_hook = hook ? std::make_shared<const std::function<void(const HttpLogRecord&)>>(std::move(hook)) : nullptr;
}
}  // namespace amlcore

namespace amlcore::internal {
namespace {
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::shared_ptr<const std::function<void(const HttpLogRecord&)>> HttpLogHook() {
  std::lock_guard lock(http_log_mu);
  return http_log_hook;
}

std::string LogExcerpt(absl::string_view body) {
  constexpr size_t kMax = 4096;
  return body.size() <= kMax ? std::string(body) : absl::StrCat(body.substr(0, kMax), "...");
}

struct ServerFile {
  std::string endpoint;
  std::string token;
  ProcessId process;
};

absl::StatusOr<ServerFile> ReadServerFile(const std::string& home) {
  auto text = ReadFile(absl::StrCat(home, "/server.json"));
  if (!text.ok()) return text.status();
  auto object = json::ParseObject(*text, "server.json");
  if (!object.ok()) return object.status();
  ServerFile f;
  f.endpoint = json::GetString(*object, "endpoint");
  f.token = json::GetString(*object, "token");
  f.process.pid = static_cast<pid_t>(json::GetInt(*object, "pid"));
  f.process.start_time = static_cast<uint64_t>(json::GetInt(*object, "start_time"));
  return f;
}

absl::StatusOr<http::Url> ParseEndpoint(const std::string& endpoint) {
  auto url = http::ParseUrl(endpoint);
  if (!url || url->scheme != "http") {
    return absl::InvalidArgumentError(absl::StrCat("The amlcored endpoint '", endpoint,
                                                   "' is not an http://host:port URL."));
  }
  return *url;
}

bool Healthy(const ServerFile& f) {
  auto url = ParseEndpoint(f.endpoint);
  if (!url.ok()) return false;
  http::Client client(url->host, url->port);
  http::Request request{.method = "GET", .target = "/health"};
  request.headers.Set("Authorization", absl::StrCat("Bearer ", f.token));
  auto response = client.Send(std::move(request), {.timeout = 3s});
  return response.ok() && response->status == 200;
}

}  // namespace

std::string FindServerProgram() {
  if (std::string configured = EnvironmentConfig::Load().server_program; !configured.empty()) return configured;
  std::string here = DirectoryContaining(reinterpret_cast<const void*>(&FindServerProgram));
  for (const char* relative : {"/amlcored", "/bin/amlcored", "/../bin/amlcored", "/../libexec/amlcore/amlcored"}) {
    std::string candidate = absl::StrCat(here, relative);
    if (std::filesystem::exists(candidate)) return std::filesystem::weakly_canonical(candidate).string();
  }
  return "amlcored";
}

absl::StatusOr<std::shared_ptr<Connection>> Connection::Open(const ConnectionOptions& options) {
  EnvironmentConfig config = EnvironmentConfig::Load();
  std::string endpoint = options.endpoint.empty() ? config.endpoint : options.endpoint;
  std::string token = options.token.empty() ? config.token : options.token;
  std::string home;
  if (endpoint.empty()) {
    home = options.home.empty() ? config.home : options.home;
    home = std::filesystem::absolute(home).lexically_normal().string();
  } else {
    if (auto url = ParseEndpoint(endpoint); !url.ok()) return url.status();
    if (token.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("No token for amlcored at ", endpoint, ": set AMLCORE_TOKEN or pass the token."));
    }
  }
  static std::mutex cache_mu;
  static std::map<std::string, std::weak_ptr<Connection>> cache;
  std::string key = absl::StrCat(endpoint, "\n", token, "\n", home);
  std::lock_guard lock(cache_mu);
  if (auto existing = cache[key].lock()) return existing;
  std::shared_ptr<Connection> connection(new Connection(endpoint, token, home));
  cache[key] = connection;
  return connection;
}

std::string Connection::endpoint() const {
  std::lock_guard lock(mu_);
  return endpoint_;
}

absl::Status Connection::Discover() {
  if (home_.empty()) return absl::OkStatus();  // explicit endpoint: nothing to discover
  // Talks to the server a server.json names, if it answers; a server found again after a restart or a start
  // gets new connections (`new_server`).
  auto adopt = [this](const absl::StatusOr<ServerFile>& f, bool new_server) {
    if (!f.ok() || !IsRunning(f->process) || !Healthy(*f)) return false;
    std::lock_guard lock(mu_);
    if (new_server || endpoint_ != f->endpoint) idle_.clear();
    endpoint_ = f->endpoint;
    token_ = f->token;
    return true;
  };
  auto server_file = ReadServerFile(home_);
  if (adopt(server_file, false)) return absl::OkStatus();
  // A server holds the home, yet server.json does not lead to it: the file was deleted or damaged, or the
  // server is still starting. Starting another would only find the home locked.
  std::string lock_path = absl::StrCat(home_, "/amlcored.lock");
  if (auto holder = FileLock::Holder(lock_path)) {
    bool is_server = ProgramName(*holder) == "amlcored";
    if (is_server) kill(*holder, SIGHUP);  // amlcored writes server.json again
    bool released = false;                 // the server stopped meanwhile: start a new one below
    for (auto deadline = Clock::now() + (is_server ? 20s : 2s); !released && Clock::now() < deadline;
         std::this_thread::sleep_for(20ms)) {
      if (adopt(ReadServerFile(home_), true)) return absl::OkStatus();
      released = !FileLock::IsHeld(lock_path);
    }
    if (!released) {
      std::string problem = absl::IsNotFound(server_file.status()) ? "is missing"
                            : !server_file.ok()                    ? "is damaged"
                                                                   : "names a server that does not answer";
      if (!is_server) {
        return absl::UnavailableError(absl::StrCat(
            "Process ", *holder, " (", ProgramName(*holder), ") holds ", lock_path, ", so no amlcored can serve ",
            home_, ", and ", home_, "/server.json ", problem, ". Stop that program, or use another AMLCORE_HOME."));
      }
      return absl::UnavailableError(absl::StrCat(
          "amlcored (pid ", *holder, ") holds ", lock_path, " but ", home_, "/server.json ", problem,
          ", and it did not write the file again when asked (SIGHUP). Stop it with 'amlcored --stop --home ", home_,
          "' (or 'kill ", *holder, "') and retry: the next call starts a new server."));
    }
  }
  // Nobody answers: start amlcored for this home. If another client starts one at the same time, one of the
  // two exits at once (the home is locked) and both end up talking to the other.
  if (auto s = MakeDirectories(home_, 0700); !s.ok()) return s;
  std::string program = FindServerProgram();
  auto started = SpawnDaemon(SpawnOptions{.program = program,
                                          .args = {"--home", home_},
                                          .log_path = absl::StrCat(home_, "/amlcored.log")});
  if (!started.ok()) {
    return absl::UnavailableError(absl::StrCat("Cannot start the workspace server (", program,
                                               "): ", started.status().message(),
                                               ". Set AMLCORE_SERVER_PROGRAM to the amlcored executable."));
  }
  for (auto deadline = Clock::now() + 20s; Clock::now() < deadline; std::this_thread::sleep_for(20ms)) {
    if (adopt(ReadServerFile(home_), true)) return absl::OkStatus();
  }
  auto log = ReadFile(absl::StrCat(home_, "/amlcored.log"));
  std::string tail = log.ok() ? log->substr(log->size() > 1500 ? log->size() - 1500 : 0) : "";
  return absl::UnavailableError(absl::StrCat("The workspace server for ", home_,
                                             " did not come up within 20 s. Its log ends with:\n", tail));
}

std::unique_ptr<http::Client> Connection::TakeClient() {
  std::lock_guard lock(mu_);
  if (!idle_.empty()) {
    auto client = std::move(idle_.back());
    idle_.pop_back();
    return client;
  }
  auto url = http::ParseUrl(endpoint_);
  if (!url) return nullptr;
  return std::make_unique<http::Client>(url->host, url->port);
}

void Connection::ReturnClient(std::unique_ptr<http::Client> client) {
  std::lock_guard lock(mu_);
  auto url = http::ParseUrl(endpoint_);
  // Clients for an old endpoint (the server restarted elsewhere) are dropped.
  if (url && client->host() == url->host && client->port() == url->port && idle_.size() < 8) {
    idle_.push_back(std::move(client));
  }
}

absl::StatusOr<Reply> Connection::Call(absl::string_view method, absl::string_view target, absl::string_view body,
                                       const CallOptions& options) {
  auto deadline = Clock::now() + options.timeout;
  auto backoff = 50ms;
  absl::Status last = absl::UnavailableError("not attempted");
  for (int attempt = 0;; ++attempt) {
    if (endpoint().empty() || (attempt > 0 && !home_.empty())) {
      if (auto s = Discover(); !s.ok()) return s;
    }
    auto client = TakeClient();
    if (!client) return absl::InvalidArgumentError(absl::StrCat("Bad amlcored endpoint '", endpoint(), "'"));
    http::Request request;
    request.method = std::string(method);
    request.target = std::string(target);
    request.body = std::string(body);
    {
      std::lock_guard lock(mu_);
      request.headers.Set("Authorization", absl::StrCat("Bearer ", token_));
    }
    request.headers.Set("Content-Type", "application/json");
    request.headers.Set("Accept", "application/json");
    request.headers.Set("User-Agent", absl::StrCat("amlcore-sdk/", kVersion));
    request.headers.Set("x-ms-client-request-id", Uuid4());
    for (const auto& [name, value] : options.headers) request.headers.Set(name, value);
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    auto hook = HttpLogHook();
    HttpLogRecord record;
    if (hook) {
      record.method = request.method;
      record.url = absl::StrCat(endpoint(), request.target);
      record.request_body = LogExcerpt(request.body);
    }
    auto started = Clock::now();
    auto response = client->Send(std::move(request),
                                 {.timeout = std::max(remaining, std::chrono::milliseconds(1)),
                                  .cancelled = options.cancelled});
    if (hook) {
      record.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
      if (response.ok()) {
        record.status = response->status;
        record.request_id = std::string(response->headers.Get("x-ms-request-id").value_or(""));
        record.response_body = LogExcerpt(response->body);
      } else {
        record.error = std::string(response.status().message());
      }
      (*hook)(record);
    }
    if (response.ok()) {
      ReturnClient(std::move(client));
      Reply reply;
      reply.status = response->status;
      reply.request_id = std::string(response->headers.Get("x-ms-request-id").value_or(""));
      reply.headers = std::move(response->headers);
      reply.body = std::move(response->body);
      if (reply.status >= 200 && reply.status < 300) return reply;
      return StatusFromHttpError(reply.status, reply.body, reply.request_id);
    }
    last = response.status();
    bool retryable = absl::IsUnavailable(last) && (options.idempotent || ErrorCodeOf(last) == http::kConnectFailed);
    if (!retryable || Clock::now() + backoff >= deadline) return last;
    // The server may be restarting: wait a little, then find it again.
    for (auto until = Clock::now() + backoff; Clock::now() < until; std::this_thread::sleep_for(10ms)) {
      if (options.cancelled && options.cancelled()) return absl::CancelledError("Cancelled while reconnecting");
    }
    backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
  }
}

}  // namespace amlcore::internal
