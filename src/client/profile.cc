#include "amlcore/profile.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/model_management.h"
#include "client/snapshot.h"
#include "common/environment_config.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/http_client.h"
#include "common/json.h"
#include "common/process.h"
#include "common/tar.h"

namespace amlcore {
namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using internal::AsUserError;

// azureml's limits for the largest instance a profile tests.
constexpr double kMinCpu = 0.1, kMaxCpu = 3.5, kMinMemory = 0.1, kMaxMemory = 15.0;
// Head room the recommendations leave above what was measured, and their step.
constexpr double kHeadroom = 1.2, kStep = 0.1;

std::string SdkDirectory() {
  return DirectoryContaining(reinterpret_cast<const void*>(&SdkDirectory));
}

// amlcore-score: $AMLCORE_SCORE_PROGRAM, else next to the SDK library (build tree) or in its bin/
// (the wheel).
std::string FindScoringProgram() {
  if (std::string configured = EnvironmentConfig::Load().scoring_program; !configured.empty())
    return configured;
  std::string dir = SdkDirectory();
  for (const std::string& candidate :
       {absl::StrCat(dir, "/amlcore-score"), absl::StrCat(dir, "/bin/amlcore-score")}) {
    if (fs::exists(candidate)) return candidate;
  }
  return "amlcore-score";
}

// The amlcore package the replica imports (for its azureml stand-ins): the wheel's folder that
// holds the SDK, or the package assembled in the build tree.
std::string FindPythonPackage() {
  if (std::string configured = EnvironmentConfig::Load().python_package; !configured.empty())
    return configured;
  fs::path dir = SdkDirectory();
  for (const fs::path& candidate : {dir, dir.parent_path() / "python" / "amlcore"}) {
    if (candidate.filename() == "amlcore" && fs::exists(candidate / "__init__.py"))
      return candidate.string();
  }
  return "";
}

// What a replica imports besides its environment, as amlcored gives it: amlcore and the modules it
// stands in for.
std::string PreparePythonPath(const fs::path& directory) {
  std::string package = FindPythonPackage();
  if (package.empty()) return "";
  std::error_code ec;
  fs::create_directories(directory, ec);
  for (const auto& [name, target] : std::vector<std::pair<std::string, fs::path>>{
           {"amlcore", package},
           {"azureml", fs::path(package) / "_shims" / "azureml"},
           {"inference_schema", fs::path(package) / "_shims" / "inference_schema"}}) {
    if (fs::exists(target)) fs::create_directory_symlink(target, directory / name, ec);
  }
  return directory.string();
}

// CPU seconds (user + system) a process used, from /proc/<pid>/stat.
// CPU time a process's threads have used, from each thread's schedstat (nanoseconds): /proc/<pid>/stat counts
// clock ticks (10 ms), too coarse for a profile of a few quick requests.
double CpuSeconds(pid_t pid) {
  std::error_code ec;
  uint64_t nanoseconds = 0;
  for (const auto& task : std::filesystem::directory_iterator(absl::StrCat("/proc/", pid, "/task"), ec)) {
    auto stat = ReadFile(absl::StrCat(task.path().string(), "/schedstat"));
    if (!stat.ok()) continue;
    uint64_t ns = 0;
    if (absl::SimpleAtoi(absl::string_view(*stat).substr(0, stat->find(' ')), &ns)) nanoseconds += ns;
  }
  return static_cast<double>(nanoseconds) / 1e9;
}

// The peak resident memory of a process (VmHWM), in bytes.
uint64_t PeakResidentBytes(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view rest = line;
    if (absl::ConsumePrefix(&rest, "VmHWM:")) {
      uint64_t kb = 0;
      if (absl::SimpleAtoi(
              absl::StripAsciiWhitespace(absl::StripSuffix(absl::StripAsciiWhitespace(rest), "kB")),
              &kb)) {
        return kb * 1024;
      }
    }
  }
  return 0;
}

double RoundUp(double value) { return std::max(kStep, std::ceil(value / kStep - 1e-9) * kStep); }

double Percentile(const std::vector<double>& sorted, double percent) {
  size_t rank =
      static_cast<size_t>(std::ceil(percent / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size(), std::max<size_t>(rank, 1)) - 1];
}

std::string LogTail(const fs::path& log) {
  auto tail = ReadLastLines(log.string(), 30);
  return tail.ok() && !tail->empty() ? absl::StrCat("\nLast lines of the replica's log:\n", *tail)
                                     : "";
}

absl::Status Invalid(absl::string_view message) {
  return AsUserError(absl::InvalidArgumentError(message));
}

}  // namespace

struct ModelProfile::State {
  explicit State(Workspace ws) : workspace(std::move(ws)) {}

  Workspace workspace;
  std::vector<Model> models;
  InferenceConfig config;
  std::vector<std::string> inputs;
  ModelProfileOptions options;

  mutable std::mutex mu;
  std::condition_variable changed;
  ModelProfileDetails details;
  std::atomic<bool> stop{false};
  std::thread worker;

  // Everything up to the measurements; what failed goes to details.error.
  void Run();
  absl::Status Measure(const fs::path& directory, ModelProfileDetails& out);
};

void ModelProfile::State::Run() {
  std::error_code ec;
  fs::path directory = fs::temp_directory_path(ec) / absl::StrCat("amlcore-profile-", getpid(), "-",
                                                                  absl::ToUnixNanos(absl::Now()));
  ModelProfileDetails measured;
  {
    std::lock_guard lock(mu);
    measured = details;
  }
  absl::Status status = Measure(directory, measured);
  fs::remove_all(directory, ec);
  std::lock_guard lock(mu);
  if (!status.ok()) measured.error = std::string(status.message());
  measured.state = status.ok() ? "Succeeded" : "Failed";
  details = std::move(measured);
  changed.notify_all();
}

absl::Status ModelProfile::State::Measure(const fs::path& directory, ModelProfileDetails& out) {
  std::error_code ec;
  fs::path app = directory / "app";
  fs::create_directories(app, ec);
  if (ec)
    return absl::InternalError(
        absl::StrCat("Cannot make the folder ", app.string(), ": ", ec.message()));
  fs::permissions(directory, fs::perms::owner_all, ec);

  // The replica's files as a deployment lays them out: models under
  // azureml-models/<name>/<version>, the source snapshot beside them.
  for (const Model& model : models) {
    fs::path target = app / "azureml-models" / model.name() / std::to_string(model.version());
    fs::create_directories(target, ec);
    auto written = model.Download(target.string(), /*exist_ok=*/true);
    if (!written.ok()) return written.status();
  }
  auto snapshot = internal::PackSource(config.source_directory, config.entry_script);
  if (!snapshot.ok()) return snapshot.status();
  std::string model_dir = models.size() == 1
                              ? absl::StrCat(app.string(), "/azureml-models/",
                                             models.front().name(), "/", models.front().version())
                              : absl::StrCat(app.string(), "/azureml-models");
  // The archive holds the source directory's files; they go under its name, as in a replica's
  // bundle.
  std::string source =
      snapshot->root_name.empty() ? app.string() : (app / snapshot->root_name).string();
  if (auto s = ExtractTar(snapshot->archive, source); !s.ok()) return s;

  fs::path status_file = directory / "status.json";
  fs::path log = directory / "replica.log";
  EnvironmentConfig environment = EnvironmentConfig::Load();
  SpawnOptions spawn{
      .program = FindScoringProgram(),
      .args = {"--host", "127.0.0.1", "--port", "0", "--status-file", status_file.string(),
               "--log-file", log.string()},
      .env = {{"AZUREML_ENTRY_SCRIPT", snapshot->entry_script},
              {"AML_APP_ROOT", app.string()},
              {"AZUREML_SOURCE_DIRECTORY", source},
              {"AZUREML_MODEL_DIR", model_dir},
              {"SCORING_TIMEOUT_MS", absl::StrCat(options.scoring_timeout.count())},
              {"AMLCORE_PYTHON", environment.runtime_python},
              {"AMLCORE_PYTHONPATH", PreparePythonPath(directory / "python")},
              {"AMLCORE_SERVICE_NAME", out.name}},
      .unset_env = {"AMLCORE_TOKEN"},
      .log_path = log.string(),
      .working_directory = app.string(),
  };
  if (config.environment) {
    for (const auto& [k, v] : config.environment->environment_variables)
      spawn.env.emplace_back(k, v);
  }
  auto process = SpawnDaemon(spawn);
  if (!process.ok()) return process.status();
  struct StopReplica {
    ProcessId process;
    ~StopReplica() { (void)Terminate(process, std::chrono::seconds(5), /*whole_group=*/true); }
  } stop_replica{*process};

  // Ready: the script loaded and init() returned.
  int64_t port = 0;
  Clock::time_point deadline = Clock::now() + options.initialize_timeout;
  while (port == 0) {
    if (stop) return absl::CancelledError("The profile was stopped.");
    auto text = ReadFile(status_file.string());
    auto status = text.ok() ? json::ParseObject(*text, "status")
                            : absl::StatusOr<json::bj::object>(text.status());
    if (status.ok() && json::GetString(*status, "phase") == "Ready") {
      port = json::GetInt(*status, "port");
      break;
    }
    if (!IsRunning(*process)) {
      std::string reason = status.ok() ? json::GetString(*status, "reason") : "";
      std::string message = status.ok() ? json::GetString(*status, "message") : "";
      return absl::FailedPreconditionError(absl::StrCat(
          "The entry script did not start", reason.empty() ? "" : absl::StrCat(" (", reason, ")"),
          message.empty() ? "." : absl::StrCat(": ", message), LogTail(log)));
    }
    if (Clock::now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("The entry script was not ready within ",
                                                      options.initialize_timeout.count() / 1000,
                                                      " s.", LogTail(log)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  // One request at a time, as azureml's profiler sends its inputs.
  http::Client client("127.0.0.1", static_cast<uint16_t>(port));
  std::vector<double> latencies;
  uint64_t peak = GroupResidentBytes(process->pid);
  std::string first_failure;
  double cpu_before = CpuSeconds(process->pid);
  Clock::time_point started = Clock::now();
  for (const std::string& input : inputs) {
    if (stop) return absl::CancelledError("The profile was stopped.");
    http::Request request{.method = "POST", .target = "/score", .body = input};
    request.headers.Set("Content-Type", "application/json");
    Clock::time_point sent = Clock::now();
    auto reply = client.Send(std::move(request),
                             {.timeout = options.scoring_timeout + std::chrono::seconds(5),
                              .cancelled = [this] { return stop.load(); }});
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - sent).count();
    peak = std::max(peak, GroupResidentBytes(process->pid));
    if (reply.ok() && reply->status == 200) {
      latencies.push_back(ms);
    } else if (first_failure.empty()) {
      first_failure = reply.ok() ? absl::StrCat("HTTP ", reply->status, ": ", reply->body)
                                 : std::string(reply.status().message());
    }
  }
  double wall = std::chrono::duration<double>(Clock::now() - started).count();
  double cpu = std::max(0.0, CpuSeconds(process->pid) - cpu_before);
  peak = std::max(peak, PeakResidentBytes(process->pid));

  int64_t total = static_cast<int64_t>(inputs.size());
  int64_t succeeded = static_cast<int64_t>(latencies.size());
  out.total_queries = total;
  out.success_queries = succeeded;
  out.success_rate = 100.0 * static_cast<double>(succeeded) / static_cast<double>(total);
  out.max_utilized_cpu = wall > 0 ? cpu / wall : 0;
  out.max_utilized_memory_gb = static_cast<double>(peak) / (1024.0 * 1024.0 * 1024.0);
  if (succeeded == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("None of the ", total, " sample inputs was scored; the first answer was ",
                     first_failure, LogTail(log)));
  }
  std::sort(latencies.begin(), latencies.end());
  double sum = 0;
  for (double l : latencies) sum += l;
  out.average_latency_ms = sum / static_cast<double>(succeeded);
  out.latency_p50_ms = Percentile(latencies, 50);
  out.latency_p90_ms = Percentile(latencies, 90);
  out.latency_p95_ms = Percentile(latencies, 95);
  out.latency_p99_ms = Percentile(latencies, 99);
  out.latency_p999_ms = Percentile(latencies, 99.9);
  out.measured_queries_per_second = wall > 0 ? static_cast<double>(total) / wall : 0;

  double cpu_needed = RoundUp(*out.max_utilized_cpu * kHeadroom);
  double memory_needed = RoundUp(*out.max_utilized_memory_gb * kHeadroom);
  std::vector<std::string> notes;
  if (succeeded < total) {
    notes.push_back(absl::StrCat(total - succeeded, " of ", total,
                                 " sample inputs failed; the first answer was ", first_failure));
  }
  // Recommendations stay within the instance asked for, and say when the model needs more.
  if (options.cpu && cpu_needed > *options.cpu) {
    notes.push_back(absl::StrCat("The model used ", *out.max_utilized_cpu, " cores, more than the ",
                                 *options.cpu, " asked for."));
    cpu_needed = *options.cpu;
  }
  if (options.memory_in_gb && memory_needed > *options.memory_in_gb) {
    notes.push_back(absl::StrCat("The replica's memory peaked at ", *out.max_utilized_memory_gb,
                                 " GB, more than the ", *options.memory_in_gb,
                                 " GB asked for; a deployment with that limit would be "
                                 "killed (OOMKilled)."));
    memory_needed = *options.memory_in_gb;
  }
  out.recommended_cpu = cpu_needed;
  out.recommended_memory_gb = memory_needed;
  out.error = absl::StrJoin(notes, "\n");
  return absl::OkStatus();
}

absl::Status ModelProfile::ValidateArguments(absl::string_view name,
                                             const ModelProfileOptions& options) {
  if (name.empty()) return Invalid("profile_name cannot be None or empty.");
  if (options.cpu && !(*options.cpu >= kMinCpu && *options.cpu <= kMaxCpu)) {
    return Invalid(
        absl::StrCat("Expected cpu value is between 0.1 and 3.5. Provided: ", *options.cpu));
  }
  if (options.memory_in_gb &&
      !(*options.memory_in_gb >= kMinMemory && *options.memory_in_gb <= kMaxMemory)) {
    return Invalid(absl::StrCat("Expected memory value is between 0.1 and 15.0. Provided: ",
                                *options.memory_in_gb));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<ModelProfile>> ModelProfile::Start(
    const Workspace& workspace, absl::string_view name, const std::vector<Model>& models,
    const InferenceConfig& inference_config, std::vector<std::string> inputs,
    const ModelProfileOptions& options) {
  if (auto s = ValidateArguments(name, options); !s.ok()) return s;
  if (inputs.empty()) return Invalid("Empty Dataset. Profiling needs at least one sample input.");
  if (auto s = inference_config.Validate(); !s.ok()) return s;

  auto state = std::make_shared<State>(workspace);
  state->models = models;
  state->config = inference_config;
  state->inputs = std::move(inputs);
  state->options = options;
  ModelProfileDetails& d = state->details;
  d.name = std::string(name);
  d.description = options.description;
  d.state = "Running";  // from the start: the replica is prepared on the worker at once
  d.created_time = absl::FormatTime("%Y-%m-%dT%H:%M:%E6S+00:00", absl::Now(), absl::UTCTimeZone());
  d.input_dataset_id = options.input_dataset_id;
  for (const Model& m : models) d.model_ids.push_back(m.id());
  d.requested_cpu = options.cpu;
  d.requested_memory_in_gb = options.memory_in_gb;
  State* raw = state.get();
  state->worker = std::thread([raw] { raw->Run(); });
  return std::shared_ptr<ModelProfile>(new ModelProfile(std::move(state)));
}

ModelProfile::~ModelProfile() {
  state_->stop = true;
  if (state_->worker.joinable()) state_->worker.join();
}

absl::Status ModelProfile::WaitForCompletion(const PollOptions& options) {
  auto progress = [&](absl::string_view text) {
    if (options.on_progress) options.on_progress(text);
  };
  std::unique_lock lock(state_->mu);
  std::string shown = state_->details.state;
  progress(shown);
  Clock::time_point start = Clock::now();
  Clock::time_point next_dot = start + options.interval;
  auto done = [&] {
    return state_->details.state == "Succeeded" || state_->details.state == "Failed";
  };
  while (!done()) {
    state_->changed.wait_for(lock, std::chrono::milliseconds(100));
    if (state_->details.state != shown) {
      shown = state_->details.state;
      progress(absl::StrCat("\n", shown));
    }
    if (done()) break;
    lock.unlock();
    bool cancelled = options.cancelled && options.cancelled();
    lock.lock();
    if (cancelled)
      return absl::CancelledError("Waiting for the profile was interrupted; it goes on.");
    if (options.timeout && Clock::now() - start > *options.timeout) {
      return absl::DeadlineExceededError(
          absl::StrCat("Profile ", state_->details.name, " did not finish within ",
                       options.timeout->count() / 1000.0, " s; it goes on."));
    }
    if (Clock::now() >= next_dot) {
      progress(".");
      next_dot += options.interval;
    }
  }
  progress("\n");
  return absl::OkStatus();
}

ModelProfileDetails ModelProfile::details() const {
  std::lock_guard lock(state_->mu);
  return state_->details;
}

}  // namespace amlcore
