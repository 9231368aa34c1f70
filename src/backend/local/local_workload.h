// What the local backend asks of a cluster's front end for one version: processes to run, as amlcore-fe's
// replica supervisor runs them. The process-level translation of a domain::WorkloadSpec.
#ifndef AMLCORE_BACKEND_LOCAL_LOCAL_WORKLOAD_H_
#define AMLCORE_BACKEND_LOCAL_LOCAL_WORKLOAD_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "common/json_fields.h"
#include "domain/workload.h"

namespace amlcore::backend::local {

struct LocalWorkload {
  domain::WorkloadKey key;
  int64_t revision = 0;
  int64_t count = 1;
  std::string program;           // amlcore-score
  std::string bundle_directory;  // the staged bundle: source files and azureml-models/
  std::string entry_script;      // relative to source_directory
  std::string source_directory;  // relative to the bundle ("" for the bundle itself)
  std::string model_directory;   // AZUREML_MODEL_DIR, relative to the bundle
  std::string python;            // interpreter whose environment replicas use
  // What the environment does not honour (substituted requirements): replicas print it when they start.
  std::vector<std::string> environment_warnings;
  std::vector<std::string> python_path;
  std::map<std::string, std::string> environment_variables;
  double memory_gb_limit = 0;  // 0: no limit
  int64_t scoring_timeout_ms = 60000;
  domain::ProbeSpec liveness;
  // With autoscaling, the front end runs between its minimum and the replicas allowed (capacity amlcored holds
  // for it), as its autoscaler decides; `count` is what it starts with.
  std::optional<domain::AutoscaleSpec> autoscale;
  int64_t allowed = 0;
  int64_t max_concurrent_requests = 1;
};
constexpr auto JsonFields(const LocalWorkload*) {
  return json::Fields(
      json::Field("key", &LocalWorkload::key), json::Field("revision", &LocalWorkload::revision),
      json::Field("count", &LocalWorkload::count), json::Field("program", &LocalWorkload::program),
      json::Field("bundleDirectory", &LocalWorkload::bundle_directory),
      json::Field("entryScript", &LocalWorkload::entry_script),
      json::Field("sourceDirectory", &LocalWorkload::source_directory),
      json::Field("modelDirectory", &LocalWorkload::model_directory), json::Field("python", &LocalWorkload::python),
      json::Field("environmentWarnings", &LocalWorkload::environment_warnings),
      json::Field("pythonPath", &LocalWorkload::python_path),
      json::Field("environmentVariables", &LocalWorkload::environment_variables),
      json::Field("memoryGbLimit", &LocalWorkload::memory_gb_limit),
      json::Field("scoringTimeoutMs", &LocalWorkload::scoring_timeout_ms),
      json::Field("liveness", &LocalWorkload::liveness), json::Field("autoscale", &LocalWorkload::autoscale),
      json::Field("allowed", &LocalWorkload::allowed),
      json::Field("maxConcurrentRequests", &LocalWorkload::max_concurrent_requests));
}

// GET /admin/workloads
struct WorkloadsReport {
  std::vector<domain::VersionObservation> workloads;
};
constexpr auto JsonFields(const WorkloadsReport*) {
  return json::Fields(json::Field("workloads", &WorkloadsReport::workloads));
}

// GET /admin/status
struct FrontEndStatus {
  int64_t api = 0;
  int64_t pid = 0;
  int64_t route_generation = 0;
  std::string cluster;
  std::string tls;  // the fingerprint of the certificate and key it serves (FrontEndTls::Fingerprint), "" for none
};
constexpr auto JsonFields(const FrontEndStatus*) {
  return json::Fields(json::Field("api", &FrontEndStatus::api), json::Field("pid", &FrontEndStatus::pid),
                      json::Field("routeGeneration", &FrontEndStatus::route_generation),
                      json::Field("cluster", &FrontEndStatus::cluster), json::Field("tls", &FrontEndStatus::tls));
}

// The certificate and key a front end serves HTTPS with (tls.json in its cluster directory, and the body of
// PUT /admin/tls); both empty for plain HTTP only.
struct FrontEndTls {
  std::string certificate_pem;
  std::string private_key_pem;
  bool empty() const { return certificate_pem.empty(); }
  // What identifies this certificate and key, without revealing the key.
  std::string Fingerprint() const { return empty() ? "" : Sha256Hex(Sha256Hex(certificate_pem) + private_key_pem); }
};
constexpr auto JsonFields(const FrontEndTls*) {
  return json::Fields(json::Field("certificatePem", &FrontEndTls::certificate_pem),
                      json::Field("privateKeyPem", &FrontEndTls::private_key_pem));
}

}  // namespace amlcore::backend::local

#endif  // AMLCORE_BACKEND_LOCAL_LOCAL_WORKLOAD_H_
