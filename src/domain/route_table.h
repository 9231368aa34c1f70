// What amlcored tells a cluster's front end (the route table, pushed whole with a generation number) and what
// the front end reports back (the state of every replica). Encoded and decoded here for both sides.
#ifndef AMLCORE_DOMAIN_ROUTE_TABLE_H_
#define AMLCORE_DOMAIN_ROUTE_TABLE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace amlcore::domain {

struct ProbeSpec {
  int period_seconds = 10;
  int initial_delay_seconds = 310;
  int timeout_seconds = 2;
  int success_threshold = 1;
  int failure_threshold = 3;
};

// How to run the replicas of one version. Any change bumps `revision`, which replaces the replicas one by
// one (new ones ready before old ones stop).
struct ReplicaSpec {
  int64_t revision = 0;
  int count = 1;
  std::string program;           // amlcore-score
  std::string bundle_directory;  // app root prepared by amlcored: source files and azureml-models/
  std::string entry_script;      // relative to source_directory
  std::string source_directory;  // relative to the app root ("" for the root itself)
  std::string model_directory;   // AZUREML_MODEL_DIR, relative to the app root
  std::string python;            // interpreter whose environment replicas use
  std::vector<std::string> python_path;
  std::map<std::string, std::string> environment_variables;
  double cpu_cores = 0.1;
  double memory_gb = 0.5;
  double memory_gb_limit = 0;  // 0: no limit
  int scoring_timeout_ms = 60000;
  ProbeSpec liveness;
};

struct VersionRoute {
  std::string name;
  int traffic_percentile = 0;
  bool is_default = true;
  bool is_control = false;
  ReplicaSpec replicas;
};

struct ServiceAuth {
  std::string mode = "key";  // "key", "token" or "none"
  std::vector<std::string> keys;
  std::string token_audience;
  std::string token_signing_key;
};

struct ServiceRoute {
  std::string name;
  ServiceAuth auth;
  int max_concurrent_requests_per_replica = 1;
  int max_queue_wait_ms = 500;
  int scoring_timeout_ms = 60000;
  std::vector<VersionRoute> versions;
};

struct RouteTable {
  int64_t generation = 0;
  std::vector<ServiceRoute> services;
};

std::string RouteTableToJson(const RouteTable& table);
absl::StatusOr<RouteTable> RouteTableFromJson(absl::string_view text);

// Replica states as the front end reports them.
struct ReplicaState {
  static constexpr char kStarting[] = "Starting";          // process started, script loading
  static constexpr char kInitializing[] = "Initializing";  // init() running
  static constexpr char kReady[] = "Ready";
  static constexpr char kWaiting[] = "Waiting";            // crashed, restarting after a back-off
  static constexpr char kTerminating[] = "Terminating";
};

struct ReplicaStatus {
  std::string id;
  int64_t revision = 0;
  std::string state;
  int64_t pid = 0;
  int64_t port = 0;
  int64_t restarts = 0;
  std::string last_reason;   // UserScriptImportFailed, UserScriptInitFailed, OOMKilled, LivenessProbeFailed, ...
  std::string last_message;  // with the last lines of the crashed replica's log
  std::string log_path;
  std::string previous_log_path;
};

struct VersionStatus {
  std::string service;
  std::string version;
  int64_t revision = 0;
  int64_t desired = 0;
  int64_t ready = 0;  // ready replicas of the current revision
  std::vector<ReplicaStatus> replicas;
};

struct FrontEndStatus {
  int64_t generation = 0;
  std::vector<VersionStatus> versions;
};

std::string FrontEndStatusToJson(const FrontEndStatus& status);
absl::StatusOr<FrontEndStatus> FrontEndStatusFromJson(absl::string_view text);

}  // namespace amlcore::domain

#endif  // AMLCORE_DOMAIN_ROUTE_TABLE_H_
