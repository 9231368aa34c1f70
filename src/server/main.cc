// amlcored: the amlcore workspace server.
#include <csignal>
#include <cstdlib>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "backend/local/local_backend.h"
#include "common/environment_config.h"
#include "common/log.h"
#include "server/workspace_server.h"

namespace {
constexpr char kUsage[] =
    "usage: amlcored [--home DIR] [--host ADDRESS] [--port PORT] [--frontend PROGRAM]\n"
    "       amlcored --stop [--home DIR] [--with-clusters]\n"
    "       amlcored --processes [--home DIR]\n"
    "  --home           state directory (default $AMLCORE_HOME or ~/.amlcore)\n"
    "  --host           listen address (default 127.0.0.1)\n"
    "  --port           listen port (default 0: any free port; see <home>/server.json)\n"
    "  --frontend       the amlcore-fe executable (default: next to amlcored)\n"
    "  --stop           stop the server of DIR\n"
    "  --with-clusters  with --stop: also stop the clusters' front ends (they keep serving otherwise)\n"
    "  --processes      print the running front ends and replicas of DIR's clusters as JSON\n"
    "signals: SIGTERM or SIGINT stop the server; SIGHUP makes it write <home>/server.json again\n"
    "environment: AMLCORE_SIMULATED_PROVISIONING_SECONDS makes cluster creation take that long\n"
    "             AMLCORE_TOKEN_LIFETIME_SECONDS sets how long service tokens live (default 3600)\n"
    "             AMLCORE_OFFLINE_ENVIRONMENTS=1 builds environments whose pinned requirements pip cannot\n"
    "             install with the versions the runtime's Python has, warning about each\n";

}  // namespace

int main(int argc, char** argv) {
  amlcore::server::WorkspaceServerOptions options;
  bool stop = false;
  bool with_clusters = false;
  bool processes = false;
  for (int i = 1; i < argc; ++i) {
    absl::string_view flag = argv[i];
    if (flag == "--stop" || flag == "--with-clusters" || flag == "--processes") {
      (flag == "--stop" ? stop : flag == "--processes" ? processes : with_clusters) = true;
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
  if (processes) {
    std::string home = options.home.empty() ? amlcore::server::DefaultHome() : options.home;
    std::cout << amlcore::backend::local::LocalProcessesToJson(amlcore::backend::local::ListLocalProcesses(home))
              << std::endl;
    return 0;
  }
  if (stop) {
    auto stopped = amlcore::server::StopHome(options.home, with_clusters);
    if (!stopped.ok()) {
      std::cerr << "amlcored: " << stopped.status().message() << std::endl;
      return 1;
    }
    std::cout << "amlcored: " << *stopped << std::endl;
    return 0;
  }
  amlcore::logging::SetProgram("amlcored");
  auto environment = amlcore::EnvironmentConfig::LoadChecked();
  if (!environment.ok()) {
    amlcore::logging::Error(environment.status().message());
    return 2;
  }
  options.simulated_provisioning = environment->simulated_provisioning;
  options.token_lifetime = environment->token_lifetime;
  options.offline_environments = environment->offline_environments;
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto server = amlcore::server::WorkspaceServer::Start(options);
  if (!server.ok()) {
    amlcore::logging::Error(server.status().message());
    return 1;
  }
  amlcore::logging::Info(absl::StrCat("serving ", (*server)->home(), " at ", (*server)->endpoint()));
  int received = 0;
  // SIGHUP: an SDK found the home locked but server.json missing or damaged, and asks for it again.
  while (sigwait(&signals, &received) == 0 && received == SIGHUP) {
    auto published = (*server)->PublishServerFile();
    if (published.ok()) {
      amlcore::logging::Info("wrote server.json again on SIGHUP");
    } else {
      amlcore::logging::Error(published.message());
    }
  }
  amlcore::logging::Info(absl::StrCat("stopping on signal ", received));
  (*server)->Stop();
  return 0;
}
