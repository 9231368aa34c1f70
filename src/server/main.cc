// amlcored: the amlcore workspace server.
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/json.h"
#include "common/process.h"
#include "server/workspace_server.h"

namespace {
constexpr char kUsage[] =
    "usage: amlcored [--home DIR] [--host ADDRESS] [--port PORT] [--frontend PROGRAM]\n"
    "       amlcored --stop [--home DIR] [--with-clusters]\n"
    "  --home           state directory (default $AMLCORE_HOME or ~/.amlcore)\n"
    "  --host           listen address (default 127.0.0.1)\n"
    "  --port           listen port (default 0: any free port; see <home>/server.json)\n"
    "  --frontend       the amlcore-fe executable (default: next to amlcored)\n"
    "  --stop           stop the server of DIR\n"
    "  --with-clusters  with --stop: also stop the clusters' front ends (they keep serving otherwise)\n"
    "environment: AMLCORE_SIMULATED_PROVISIONING_SECONDS makes cluster creation take that long\n";

amlcore::ProcessId ProcessIn(const std::string& file) {
  auto text = amlcore::ReadFile(file);
  if (!text.ok()) return {};
  auto object = amlcore::json::ParseObject(*text, file);
  if (!object.ok()) return {};
  return {static_cast<pid_t>(amlcore::json::GetInt(*object, "pid")),
          static_cast<uint64_t>(amlcore::json::GetInt(*object, "start_time"))};
}

// Stops the server of `home` and, if asked, every front end it started (the data plane otherwise keeps
// running without the server).
int Stop(std::string home, bool with_clusters) {
  if (home.empty()) home = amlcore::server::DefaultHome();
  amlcore::ProcessId server = ProcessIn(home + "/" + amlcore::server::kServerFile);
  if (amlcore::IsRunning(server)) {
    if (auto s = amlcore::Terminate(server, std::chrono::seconds(10)); !s.ok()) {
      std::cerr << "amlcored: " << s.message() << std::endl;
      return 1;
    }
    std::cout << "amlcored: stopped the server of " << home << " (pid " << server.pid << ")" << std::endl;
  } else {
    std::cout << "amlcored: no server is running for " << home << std::endl;
  }
  if (!with_clusters) return 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(home + "/clusters", ec)) {
    amlcore::ProcessId frontend = ProcessIn(entry.path().string() + "/frontend.json");
    if (amlcore::IsRunning(frontend) && amlcore::Terminate(frontend, std::chrono::seconds(10)).ok()) {
      std::cout << "amlcored: stopped the front end of cluster " << entry.path().filename().string() << std::endl;
    }
  }
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  amlcore::server::WorkspaceServerOptions options;
  bool stop = false;
  bool with_clusters = false;
  for (int i = 1; i < argc; ++i) {
    absl::string_view flag = argv[i];
    if (flag == "--stop" || flag == "--with-clusters") {
      (flag == "--stop" ? stop : with_clusters) = true;
      continue;
    }
    if (flag == "--help" || flag == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (i + 1 >= argc) {
      std::cerr << "amlcored: " << flag << " needs a value\n" << kUsage;
      return 2;
    }
    absl::string_view value = argv[++i];
    uint32_t port;
    if (flag == "--home") {
      options.home = std::string(value);
    } else if (flag == "--host") {
      options.host = std::string(value);
    } else if (flag == "--port" && absl::SimpleAtoi(value, &port) && port <= 65535) {
      options.port = static_cast<uint16_t>(port);
    } else if (flag == "--frontend") {
      options.frontend_program = std::string(value);
    } else {
      std::cerr << "amlcored: unknown or malformed flag " << flag << " " << value << "\n" << kUsage;
      return 2;
    }
  }
  if (stop) return Stop(options.home, with_clusters);
  if (const char* delay = std::getenv("AMLCORE_SIMULATED_PROVISIONING_SECONDS")) {
    double seconds;
    if (!absl::SimpleAtod(delay, &seconds) || seconds < 0) {
      std::cerr << "amlcored: AMLCORE_SIMULATED_PROVISIONING_SECONDS must be a non-negative number\n";
      return 2;
    }
    options.simulated_provisioning = std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto server = amlcore::server::WorkspaceServer::Start(options);
  if (!server.ok()) {
    std::cerr << "amlcored: " << server.status().message() << std::endl;
    return 1;
  }
  std::cout << "amlcored: serving " << (*server)->home() << " at " << (*server)->endpoint() << std::endl;
  int received = 0;
  sigwait(&signals, &received);
  std::cerr << "amlcored: stopping on signal " << received << std::endl;
  (*server)->Stop();
  return 0;
}
