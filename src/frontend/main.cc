// amlcore-fe: the front end of one cluster. Started and supervised by amlcored's local backend.
#include <csignal>
#include <iostream>

#include "absl/strings/numbers.h"
#include "common/environment_config.h"
#include "frontend/front_end.h"

int main(int argc, char** argv) {
  amlcore::frontend::FrontEndOptions options;
  for (int i = 1; i + 1 < argc; i += 2) {
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
                << "                  [--threads N]\n";
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
  auto fe = amlcore::frontend::FrontEnd::Start(options);
  if (!fe.ok()) {
    std::cerr << "amlcore-fe: " << fe.status().message() << std::endl;
    return 1;
  }
  std::cerr << "amlcore-fe: cluster " << options.cluster_id << " listening on " << options.host << ":"
            << (*fe)->port() << " with " << options.threads << " I/O threads" << std::endl;
  int received = 0;
  sigwait(&signals, &received);
  std::cerr << "amlcore-fe: stopping on signal " << received << std::endl;
  (*fe)->Stop();
  return 0;
}
