// Model profiling, as azureml's Model.profile: what cpu and memory_in_gb a deployment of some
// models with an inference configuration needs. amlcore measures it on this machine: the entry
// script runs with its models and source directory in a scoring replica of its own (amlcore-score,
// as deployments run it, on the runtime's Python), init() once, then run() once per sample input,
// one at a time; latency, CPU time and peak memory are measured and the recommendations derived
// from them (see README, "Model profiling").
//
//   auto profile = amlcore::ModelProfile::Start(ws, "diabetes-profile", {*model}, inference,
//   {"{\"data\": [[1]]}"}); absl::Status done = (*profile)->WaitForCompletion({}); std::cout <<
//   (*profile)->details().recommended_cpu.value_or(0);
#ifndef AMLCORE_PROFILE_H_
#define AMLCORE_PROFILE_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "amlcore/environment.h"
#include "amlcore/model.h"
#include "amlcore/operation.h"
#include "amlcore/workspace.h"

namespace amlcore {

struct ModelProfileOptions {
  std::optional<double> cpu;  // the largest instance to test: 0.1 to 3.5 cores (azureml's range)
  std::optional<double> memory_in_gb;  // 0.1 to 15 GB
  std::string description;
  std::string input_dataset_id;  // recorded with the results
  std::chrono::milliseconds initialize_timeout{
      std::chrono::minutes(10)};  // for loading the script and init()
  std::chrono::milliseconds scoring_timeout{std::chrono::minutes(1)};  // for each run()
};

// What a profile found, in azureml's terms. Measurements are set once it Succeeded (or Failed after
// some inputs).
struct ModelProfileDetails {
  std::string name;
  std::string description;
  std::string state;  // Running, then Succeeded or Failed
  std::string created_time;
  std::string error;  // why it failed, or what it noticed on success (a limit exceeded)
  std::string input_dataset_id;
  std::vector<std::string> model_ids;
  std::optional<double> requested_cpu;
  std::optional<double> requested_memory_in_gb;
  std::optional<int64_t> total_queries;
  std::optional<int64_t> success_queries;
  std::optional<double> success_rate;  // percent
  std::optional<double> average_latency_ms;
  std::optional<double> latency_p50_ms;
  std::optional<double> latency_p90_ms;
  std::optional<double> latency_p95_ms;
  std::optional<double> latency_p99_ms;
  std::optional<double> latency_p999_ms;
  std::optional<double> measured_queries_per_second;
  std::optional<double> max_utilized_cpu;        // cores the replica used while it answered
  std::optional<double> max_utilized_memory_gb;  // its peak resident memory (with what it started)
  std::optional<double> recommended_cpu;
  std::optional<double> recommended_memory_gb;
};

class ModelProfile {
 public:
  // azureml's checks of the name and the instance size (UserErrorException messages).
  static absl::Status ValidateArguments(absl::string_view name, const ModelProfileOptions& options);
  // Checks the arguments and starts profiling in the background.
  static absl::StatusOr<std::shared_ptr<ModelProfile>> Start(
      const Workspace& workspace, absl::string_view name, const std::vector<Model>& models,
      const InferenceConfig& inference_config, std::vector<std::string> inputs,
      const ModelProfileOptions& options = {});
  ~ModelProfile();
  ModelProfile(const ModelProfile&) = delete;
  ModelProfile& operator=(const ModelProfile&) = delete;

  // Waits until the profile Succeeded or Failed (a failure is in details(), not in the status);
  // progress as azureml prints it: the state, a dot per interval, each new state on its own line.
  absl::Status WaitForCompletion(const PollOptions& options = {});
  ModelProfileDetails details() const;

 private:
  struct State;
  explicit ModelProfile(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

}  // namespace amlcore

#endif  // AMLCORE_PROFILE_H_
