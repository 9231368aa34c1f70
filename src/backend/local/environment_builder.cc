#include "backend/local/environment_builder.h"

#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "backend/local/layout.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/json.h"
#include "common/json_fields.h"
#include "common/process.h"

namespace amlcore::backend::local {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr char kMarker[] = "amlcore-environment.json";

// pip runs with the machine's configuration, but bounded: an index that cannot be reached fails it within one
// socket timeout instead of after pip's retries (or a PIP_DEFAULT_TIMEOUT of minutes), and the whole install has
// a deadline.
constexpr int kPipSocketTimeoutSeconds = 15;
constexpr auto kPipDeadline = 20min;

// What a build leaves in <home>/environments/<hash>/: the interpreter replicas use, and what it does not honour.
struct EnvironmentMarker {
  std::string python;
  std::string hash;
  std::vector<std::string> warnings;
};
constexpr auto JsonFields(const EnvironmentMarker*) {
  return json::Fields(json::Field("python", &EnvironmentMarker::python), json::Field("hash", &EnvironmentMarker::hash),
                      json::Field("warnings", &EnvironmentMarker::warnings));
}

// Reports, for each requirement, the distribution it names and the version installed in the runtime's Python.
constexpr char kProbeScript[] = R"PY(
import json, sys
from importlib import metadata
try:
    from packaging.requirements import Requirement
except ImportError:
    from pip._vendor.packaging.requirements import Requirement
out = []
for text in sys.argv[1:]:
    entry = {"requirement": text, "name": None, "installed": None, "matches": None, "error": None}
    try:
        req = Requirement(text)
        entry["name"] = req.name
        try:
            version = metadata.version(req.name)
            entry["installed"] = version
            entry["matches"] = (not req.specifier) or req.specifier.contains(version, prereleases=True)
        except metadata.PackageNotFoundError:
            pass
    except Exception as e:
        entry["error"] = str(e)
    out.append(entry)
print(json.dumps(out))
)PY";

std::string Normalized(absl::string_view name) {
  return absl::StrReplaceAll(absl::AsciiStrToLower(name), {{"_", "-"}, {".", "-"}});
}

std::string Tail(const std::string& text, size_t max) {
  return text.size() > max ? absl::StrCat("...", text.substr(text.size() - max)) : text;
}

std::string LastLine(absl::string_view text) {
  text = absl::StripTrailingAsciiWhitespace(text);
  size_t newline = text.rfind('\n');
  return std::string(newline == absl::string_view::npos ? text : text.substr(newline + 1));
}

std::vector<std::string> Texts(const std::vector<ProbedRequirement>& requirements) {
  std::vector<std::string> out;
  for (const auto& r : requirements) out.push_back(r.text);
  return out;
}

std::vector<std::string> PipSpecs(const std::vector<ProbedRequirement>& requirements) {
  std::vector<std::string> out;
  for (const auto& r : requirements) out.push_back(r.pip_spec);
  return out;
}

struct PipInstall {
  std::string command;  // as tried, for messages
  absl::StatusOr<CommandResult> result;
  bool ok() const { return result.ok() && result->exit_code == 0; }
  std::string Output() const { return result.ok() ? result->output : std::string(result.status().message()); }
};

// The one way a build runs pip: into `venv`, with the machine's pip configuration and the bounds above.
PipInstall RunPip(const std::string& venv, const std::vector<std::string>& specs) {
  std::vector<std::string> argv = {absl::StrCat(venv, "/bin/python"), "-m", "pip", "install",
                                   "--disable-pip-version-check", "--no-input", "--retries", "0", "--timeout",
                                   absl::StrCat(kPipSocketTimeoutSeconds)};
  argv.insert(argv.end(), specs.begin(), specs.end());
  return PipInstall{absl::StrJoin(argv, " "), RunCommand(argv, kPipDeadline)};
}

// The build's error when pip could not install `failed`: what was tried, what the runtime's Python has instead,
// what to do, and pip's output.
absl::Status PipFailure(const PipInstall& pip, const std::vector<ProbedRequirement>& failed,
                        bool offline_environments) {
  std::string message = absl::StrCat("pip could not install ", absl::StrJoin(Texts(failed), " "));
  if (pip.result.ok() && pip.result->timed_out) {
    absl::StrAppend(&message, " (stopped after ",
                    std::chrono::duration_cast<std::chrono::minutes>(kPipDeadline).count(), " minutes)");
  }
  absl::StrAppend(&message, ". Tried: ", pip.command, " (with the machine's pip configuration, no retries, a ",
                  kPipSocketTimeoutSeconds, " s socket timeout).");
  bool substitutable = false;
  for (const auto& r : failed) {
    absl::StrAppend(&message, "\n", UnavailableExplanation(r));
    substitutable |= !r.installed.empty();
  }
  absl::StrAppend(&message, "\nGive pip a package index that has ", failed.size() == 1 ? "it" : "them",
                  " (pip.conf, PIP_INDEX_URL, PIP_FIND_LINKS) or change the requirements",
                  substitutable && !offline_environments
                      ? "; to use the versions available instead, start amlcored with AMLCORE_OFFLINE_ENVIRONMENTS=1"
                      : "",
                  ". pip's output:\n", Tail(pip.Output(), 6000));
  return MakeError(absl::StatusCode::kFailedPrecondition, "EnvironmentBuildFailed", message);
}
}  // namespace

bool ProvidedByAmlcore(absl::string_view distribution) {
  // Each with the reason amlcore may stand in for it; the modules live in python/amlcore/_shims.
  static constexpr absl::string_view kProvided[] = {
      // The serving meta package: azureml-core and the inference server, both below.
      "azureml-defaults",
      // What entry scripts use of it, azureml.core (Model.get_model_path, Workspace, ...), maps to amlcore.
      "azureml-core",
      // azureml.contrib.services.aml_request / aml_response (rawhttp, AMLRequest, AMLResponse) are shimmed.
      "azureml-contrib-services",
      // The inference server itself is amlcore-score.
      "azureml-inference-server-http",
      // input_schema / output_schema and the standard, numpy and pandas parameter types are shimmed.
      "inference-schema",
  };
  std::string name = Normalized(distribution);
  for (absl::string_view provided : kProvided) {
    if (name == provided) return true;
  }
  return false;
}

RequirementAction DecideRequirement(const ProbedRequirement& requirement, bool pip_failed,
                                    bool offline_environments) {
  if (ProvidedByAmlcore(requirement.name)) return RequirementAction::kProvided;
  if (!requirement.installed.empty() && requirement.matches) return RequirementAction::kSatisfied;
  if (!pip_failed) return RequirementAction::kInstall;
  return offline_environments && !requirement.installed.empty() ? RequirementAction::kSubstitute
                                                                : RequirementAction::kUnavailable;
}

std::string CondaToPip(absl::string_view spec) {
  for (absl::string_view op : {"==", ">=", "<=", "!=", "~=", ">", "<"}) {
    if (absl::StrContains(spec, op)) return std::string(spec);
  }
  size_t eq = spec.find('=');
  if (eq == absl::string_view::npos) return std::string(spec);
  absl::string_view version = spec.substr(eq + 1);
  size_t build = version.find('=');
  bool exact = build != absl::string_view::npos;
  if (exact) version = version.substr(0, build);
  return absl::StrCat(spec.substr(0, eq), "==", version, exact || absl::StrContains(version, "*") ? "" : ".*");
}

std::string SubstitutionWarning(const ProbedRequirement& requirement) {
  return absl::StrCat("WARNING: requirement ", requirement.text, " is not installed; using ", requirement.name, " ",
                      requirement.installed, " instead (AMLCORE_OFFLINE_ENVIRONMENTS=1)");
}

std::string UnavailableExplanation(const ProbedRequirement& requirement) {
  if (requirement.installed.empty()) {
    return absl::StrCat("requirement ", requirement.text,
                        ": pip could not install it, and the runtime's Python has no ", requirement.name, ".");
  }
  return absl::StrCat("requirement ", requirement.text, ": pip could not install it; the version available is ",
                      requirement.name, " ", requirement.installed,
                      " (in the runtime's Python), which does not satisfy it.");
}

EnvironmentBuilder::EnvironmentBuilder(std::string home, std::string runtime_python, bool offline_environments)
    : home_(std::move(home)),
      runtime_python_(std::move(runtime_python)),
      offline_environments_(offline_environments) {
  auto version = RunCommand({runtime_python_, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"}, 10s);
  if (version.ok() && version->exit_code == 0) {
    runtime_version_ = std::string(absl::StripAsciiWhitespace(version->output));
  }
}

std::optional<absl::StatusOr<BuiltEnvironment>> EnvironmentBuilder::FromCache(const Environment& env,
                                                                             const std::string& hash,
                                                                             const Log& log) {
  std::string short_hash = hash.substr(0, 12);
  if (env.python.user_managed_dependencies) {
    std::string python = env.python.interpreter_path;
    if (python.empty() || python == "python" || python == "python3") python = runtime_python_;
    if (!fs::exists(python)) {
      return MakeError(absl::StatusCode::kFailedPrecondition, "EnvironmentBuildFailed",
                       absl::StrCat("The user-managed environment's interpreter_path ", python, " does not exist."));
    }
    log(absl::StrCat("Environment ", short_hash, ": user-managed dependencies, using ", python, " as it is"));
    return BuiltEnvironment{python, false, {}};
  }
  std::string path = absl::StrCat(EnvironmentsDirectory(home_), "/", hash, "/", kMarker);
  auto text = ReadFile(path);
  if (!text.ok()) return std::nullopt;
  auto marker = json::DecodeText<EnvironmentMarker>(*text, path);
  if (!marker.ok() || !fs::exists(marker->python)) return std::nullopt;
  if (!marker->warnings.empty() && !offline_environments_) {
    log(absl::StrCat("Environment ", short_hash, ": the cached build uses installed versions in place of ",
                     marker->warnings.size() == 1 ? "a requirement" : "requirements",
                     " pip could not install, which only AMLCORE_OFFLINE_ENVIRONMENTS=1 allows; building it again"));
    return std::nullopt;
  }
  log(absl::StrCat("Environment ", short_hash, ": cache hit (machine-wide), using ", marker->python));
  for (const auto& warning : marker->warnings) log(warning);
  return BuiltEnvironment{marker->python, false, marker->warnings};
}

std::vector<std::string> EnvironmentBuilder::Warnings(const std::string& hash) const {
  std::string path = absl::StrCat(EnvironmentsDirectory(home_), "/", hash, "/", kMarker);
  auto text = ReadFile(path);
  if (!text.ok()) return {};
  auto marker = json::DecodeText<EnvironmentMarker>(*text, path);
  return marker.ok() ? marker->warnings : std::vector<std::string>{};
}

absl::StatusOr<BuiltEnvironment> EnvironmentBuilder::Build(const Environment& env, const std::string& hash,
                                                           const Log& log) {
  if (auto cached = FromCache(env, hash, log)) return *cached;
  std::string short_hash = hash.substr(0, 12);
  std::string directory = absl::StrCat(EnvironmentsDirectory(home_), "/", hash);
  if (auto s = MakeDirectories(EnvironmentsDirectory(home_)); !s.ok()) return s;

  std::vector<ProbedRequirement> requirements;
  if (env.python.conda_dependencies) {
    const CondaDependencies& conda = *env.python.conda_dependencies;
    if (!conda.python_version.empty() && !runtime_version_.empty() &&
        !absl::StartsWith(absl::StrCat(runtime_version_, "."), absl::StrCat(conda.python_version, ".")) &&
        conda.python_version != runtime_version_) {
      log(absl::StrCat("Warning: the environment pins Python ", conda.python_version, "; replicas run Python ",
                       runtime_version_, "."));
    }
    for (const auto& p : conda.conda_packages) requirements.push_back({.text = p, .pip_spec = CondaToPip(p)});
    for (const auto& p : conda.pip_packages) requirements.push_back({.text = p, .pip_spec = p});
  }
  log(absl::StrCat("Environment ", short_hash, ": cache miss, resolving ", requirements.size(), " package",
                   requirements.size() == 1 ? "" : "s", " against ", runtime_python_));

  std::vector<ProbedRequirement> install;
  if (!requirements.empty()) {
    std::vector<std::string> argv = {runtime_python_, "-c", kProbeScript};
    for (const auto& r : requirements) argv.push_back(r.pip_spec);
    auto probe = RunCommand(argv, 60s);
    if (!probe.ok()) return probe.status();
    auto parsed = json::Parse(probe->exit_code == 0 ? probe->output : "");
    if (!parsed.ok() || !parsed->is_array() || parsed->as_array().size() != requirements.size()) {
      return MakeError(absl::StatusCode::kInternal, "EnvironmentBuildFailed",
                       absl::StrCat("Could not inspect the runtime's packages:\n", Tail(probe->output, 4000)));
    }
    for (size_t i = 0; i < requirements.size(); ++i) {
      ProbedRequirement& r = requirements[i];
      const auto& o = parsed->as_array()[i].as_object();
      if (!json::GetString(o, "error").empty()) {
        return MakeError(absl::StatusCode::kInvalidArgument, "EnvironmentBuildFailed",
                         absl::StrCat("The requirement '", r.text, "' cannot be read: ", json::GetString(o, "error")));
      }
      r.name = json::GetString(o, "name");
      r.installed = json::GetString(o, "installed");
      r.matches = json::GetBool(o, "matches", false);
      switch (DecideRequirement(r, /*pip_failed=*/false, offline_environments_)) {
        case RequirementAction::kProvided:
          log(absl::StrCat("  skipped ", r.text, ": provided by amlcore"));
          break;
        case RequirementAction::kSatisfied:
          log(absl::StrCat("  satisfied ", r.text, ": ", r.name, " ", r.installed));
          break;
        default:
          install.push_back(r);
      }
    }
  }

  std::string python = runtime_python_;
  std::vector<std::string> warnings;
  std::error_code ec;
  if (install.empty()) {
    log(absl::StrCat("Environment ", short_hash, ": nothing to install, using the runtime's Python ", python));
  } else {
    std::string venv = absl::StrCat(directory, "/venv");
    fs::remove_all(directory, ec);
    log(absl::StrCat("  installing ", absl::StrJoin(Texts(install), " "), " into ", venv));
    auto created = RunCommand({runtime_python_, "-m", "venv", "--system-site-packages", "--without-pip", venv}, 5min);
    if (!created.ok()) return created.status();
    if (created->exit_code != 0) {
      fs::remove_all(directory, ec);
      return MakeError(absl::StatusCode::kFailedPrecondition, "EnvironmentBuildFailed",
                       absl::StrCat("Creating the virtual environment failed:\n", Tail(created->output, 6000)));
    }
    PipInstall pip = RunPip(venv, PipSpecs(install));
    std::vector<ProbedRequirement> installed = install;
    if (!pip.ok()) {
      log(absl::StrCat("  pip could not install ", absl::StrJoin(Texts(install), " "), ": ", LastLine(pip.Output())));
      std::vector<ProbedRequirement> substituted, unavailable;
      for (const auto& r : install) {
        (DecideRequirement(r, /*pip_failed=*/true, offline_environments_) == RequirementAction::kSubstitute
             ? substituted
             : unavailable)
            .push_back(r);
      }
      installed.clear();
      // Substitutes stand in for what pip could not install; what has none may still install on its own.
      if (!substituted.empty() && !unavailable.empty()) {
        pip = RunPip(venv, PipSpecs(unavailable));
        if (pip.ok()) installed = std::exchange(unavailable, {});
      }
      if (!unavailable.empty()) {
        fs::remove_all(directory, ec);
        return PipFailure(pip, offline_environments_ ? unavailable : install, offline_environments_);
      }
      for (const auto& r : substituted) {
        warnings.push_back(SubstitutionWarning(r));
        log(warnings.back());
      }
    }
    if (installed.empty()) {
      fs::remove_all(directory, ec);
      log(absl::StrCat("Environment ", short_hash, ": nothing installed, using the runtime's Python ", python));
    } else {
      log(absl::StrCat("  installed ", absl::StrJoin(Texts(installed), " ")));
      python = absl::StrCat(venv, "/bin/python");
    }
  }
  if (auto s = MakeDirectories(directory); !s.ok()) return s;
  EnvironmentMarker marker{python, hash, warnings};
  if (auto s = WriteFileAtomic(absl::StrCat(directory, "/", kMarker), json::EncodeText(marker), 0644); !s.ok()) {
    return s;
  }
  return BuiltEnvironment{python, true, std::move(warnings)};
}

}  // namespace amlcore::backend::local
