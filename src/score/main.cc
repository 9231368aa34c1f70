// amlcore-score: one scoring replica. Started and supervised by a cluster's front end.
#include <iostream>

#include "absl/strings/numbers.h"
#include "backend/kubernetes/artifact_fetch.h"
#include "common/log.h"
#include "score/scoring_runtime.h"

int main(int argc, char** argv) {
  amlcore::logging::SetProgram("amlcore-score");
  // A Kubernetes pod's init container: fetch the version's artifacts, then exit.
  if (argc == 3 && absl::string_view(argv[1]) == "--fetch-artifacts") {
    amlcore::logging::SetProgram("amlcore-score");
    return amlcore::kubernetes::RunFetchArtifacts(argv[2]);
  }
  amlcore::score::RuntimeOptions options;
  for (int i = 1; i + 1 < argc; i += 2) {
    absl::string_view flag = argv[i];
    absl::string_view value = argv[i + 1];
    uint32_t number;
    if (flag == "--host") {
      options.host = std::string(value);
    } else if (flag == "--port" && absl::SimpleAtoi(value, &number) && number <= 65535) {
      options.port = static_cast<uint16_t>(number);
    } else if (flag == "--socket") {
      options.unix_socket = std::string(value);
    } else if (flag == "--status-file") {
      options.status_file = std::string(value);
    } else if (flag == "--log-file") {
      options.log_file = std::string(value);
    } else if (flag == "--io-threads" && absl::SimpleAtoi(value, &number) && number > 0 && number <= 64) {
      options.io_threads = static_cast<int>(number);
    } else {
      std::cerr << "amlcore-score: unknown or malformed flag " << flag << " " << value << "\n"
                << "usage: amlcore-score [--host HOST] [--port PORT | --socket PATH] [--status-file FILE]\n"
                << "                     [--log-file FILE] [--io-threads N]\n"
                << "       amlcore-score --fetch-artifacts DIR   (a Kubernetes pod's init container)\n"
                << "The entry script and its directories come from AZUREML_ENTRY_SCRIPT, AML_APP_ROOT, "
                   "AZUREML_MODEL_DIR and AZUREML_SOURCE_DIRECTORY.\n";
      return 2;
    }
  }
  return amlcore::score::RunScoringServer(options);
}
