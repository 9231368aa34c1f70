// amlcore-fe: the front end of one cluster. Started and supervised by amlcored's local backend.
#include <csignal>
#include <cstdlib>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/environment_config.h"
#include "common/log.h"
#include "frontend/front_end.h"

int main(int argc, char** argv) {
  amlcore::frontend::FrontEndOptions options;
  int first = 1;
  // In a Kubernetes pod, as an attached cluster's router: the namespace and admin token come from the pod.
  if (argc > 1 && absl::string_view(argv[1]) == "--kubernetes") {
    options.kubernetes = true;
    if (const char* ns = std::getenv("AMLCORE_NAMESPACE")) options.namespace_name = ns;
    if (const char* token = std::getenv("AMLCORE_ADMIN_TOKEN")) options.admin_token = token;
    first = 2;
  }
  for (int i = first; i + 1 < argc; i += 2) {
    absl::string_view flag = argv[i];
    absl::string_view value = argv[i + 1];
    uint32_t port;
    int threads;
    if (flag == "--cluster-dir") {
      options.cluster_directory = std::string(value);
    } else if (flag == "--home") {
      options.home = std::string(value);
    } else if (flag == "--cluster-id") {
      options.cluster_id = std::string(value);
    } else if (flag == "--host") {
      options.host = std::string(value);
    } else if (flag == "--port" && absl::SimpleAtoi(value, &port) && port <= 65535) {
      options.port = static_cast<uint16_t>(port);
    } else if (flag == "--threads" && absl::SimpleAtoi(value, &threads) && threads >= 1 && threads <= 64) {
      options.threads = threads;
    } else {
      std::cerr << "amlcore-fe: unknown or malformed flag " << flag << " " << value << "\n"
                << "usage: amlcore-fe --cluster-dir DIR [--home DIR] [--cluster-id ID] [--host HOST] [--port PORT]\n"
                << "                  [--threads N]\n"
                << "       amlcore-fe --kubernetes [--cluster-id ID] [--host HOST] [--port PORT] [--threads N]\n"
                << "                  (in a pod; AMLCORE_NAMESPACE and AMLCORE_ADMIN_TOKEN from its environment)\n";
      return 2;
    }
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // threads started below inherit the mask

  if (options.threads == 0) options.threads = amlcore::frontend::DefaultIoThreads();
  amlcore::EnvironmentConfig config = amlcore::EnvironmentConfig::Load();
  options.autoscale_stabilization = config.autoscale_stabilization;
  options.scale_to_zero_idle = config.scale_to_zero_idle;
  amlcore::logging::SetProgram("amlcore-fe");
  auto fe = amlcore::frontend::FrontEnd::Start(options);
  if (!fe.ok()) {
    amlcore::logging::Error(fe.status().message());
    return 1;
  }
  amlcore::logging::Info(absl::StrCat("cluster ", options.cluster_id, " listening on ", options.host, ":",
                                      (*fe)->port(), " with ", options.threads, " I/O threads"));
  int received = 0;
  sigwait(&signals, &received);
  amlcore::logging::Info(absl::StrCat("stopping on signal ", received));
  (*fe)->Stop();
  return 0;
}
