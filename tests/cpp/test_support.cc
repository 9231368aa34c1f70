#include "cpp/test_support.h"

#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/json.h"
#include "backend/local/local_backend.h"
#include "common/process.h"

namespace amlcore::testing {
namespace fs = std::filesystem;

TempHome::TempHome() {
  std::string pattern = (fs::temp_directory_path() / "amlcore-test-XXXXXX").string();
  path_ = mkdtemp(pattern.data());
}

TempHome::~TempHome() {
  KillEverything();
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::vector<ProcessId> TempHome::RunningFrontEnds() const { return Running("frontend"); }

std::vector<ProcessId> TempHome::RunningReplicas() const { return Running("replica"); }

std::vector<ProcessId> TempHome::Running(const std::string& kind) const {
  std::vector<ProcessId> out;
  for (const auto& p : backend::local::ListLocalProcesses(path_)) {
    if (p.kind == kind) out.push_back(p.process);
  }
  return out;
}

bool ProbeHealth(const std::string& endpoint) {
  auto url = http::ParseUrl(endpoint);
  if (!url) return false;
  http::Client client(url->host, url->port);
  auto response = client.Send(http::Request{.method = "GET", .target = "/"}, {.timeout = std::chrono::seconds(2)});
  return response.ok() && response->status == 200;
}

void TempHome::KillEverything() const {
  // An in-process server is stopped by its owner; StopHome ends the processes.
  if (auto text = ReadFile(path_ + "/server.json"); text.ok()) {
    if (auto object = json::ParseObject(*text, "server.json"); object.ok() && json::GetInt(*object, "pid") == getpid()) {
      std::filesystem::remove(path_ + "/server.json");
    }
  }
  (void)server::StopHome(path_, /*with_clusters=*/true);
}

void ServerFixture::SetUp() {
  home_ = std::make_unique<TempHome>();
  auto server = server::WorkspaceServer::Start(
      {.home = home_->path(), .frontend_program = AMLCORE_FE_PATH, .scoring_program = AMLCORE_SCORE_PATH});
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = std::move(*server);
}

void ServerFixture::TearDown() {
  if (server_) server_->Stop();
  server_.reset();
  home_.reset();
}

ConnectionOptions ServerFixture::connection() const {
  return ConnectionOptions{.endpoint = server_->endpoint(), .token = server_->admin_token()};
}

Workspace ServerFixture::MakeWorkspace(const std::string& name) {
  auto ws = Workspace::Create(name, {.exist_ok = true, .connection = connection()});
  EXPECT_TRUE(ws.ok()) << ws.status();
  return *ws;
}

http::Response ServerFixture::Rest(const std::string& method, const std::string& target, const std::string& body,
                                   std::optional<std::string> token) {
  http::Client client("127.0.0.1", server_->port());
  http::Request request{.method = method, .target = target, .body = body};
  request.headers.Set("Authorization", absl::StrCat("Bearer ", token.value_or(server_->admin_token())));
  request.headers.Set("Content-Type", "application/json");
  auto response = client.Send(std::move(request), {.timeout = std::chrono::seconds(30)});
  EXPECT_TRUE(response.ok()) << response.status();
  return response.ok() ? *response : http::Response{.status = 0};
}

std::pair<std::string, std::string> MakeCertificate(const std::string& directory, const std::string& cname) {
  std::string cert = absl::StrCat(directory, "/", cname, ".cert.pem");
  std::string key = absl::StrCat(directory, "/", cname, ".key.pem");
  std::string command = absl::StrCat("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=", cname,
                                     " -keyout ", key, " -out ", cert, " >/dev/null 2>&1");
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  return {cert, key};
}

bool Eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

}  // namespace amlcore::testing
