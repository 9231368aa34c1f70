#include "backend/local/environment_builder.h"

#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/json.h"
#include "common/process.h"
#include "backend/local/layout.h"

namespace amlcore::backend::local {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr char kMarker[] = "amlcore-environment.json";

// Reports, for each requirement, the installed distribution and version (or null) in the runtime's Python.
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

// Conda's "name=1.0" pins are pip's "name==1.0".
std::string CondaToPip(const std::string& spec) {
  if (spec.find("==") != std::string::npos || spec.find(">=") != std::string::npos ||
      spec.find("<=") != std::string::npos || spec.find("!=") != std::string::npos) {
    return spec;
  }
  size_t eq = spec.find('=');
  if (eq == std::string::npos) return spec;
  std::string version = spec.substr(eq + 1);
  if (size_t build = version.find('='); build != std::string::npos) version = version.substr(0, build);
  return absl::StrCat(spec.substr(0, eq), "==", version);
}

std::string Normalized(absl::string_view name) {
  return absl::StrReplaceAll(absl::AsciiStrToLower(name), {{"_", "-"}, {".", "-"}});
}

// azureml's serving stack, which amlcore's runtime stands in for.
bool ProvidedByAmlcore(const std::string& name) {
  std::string n = Normalized(name);
  return absl::StartsWith(n, "azureml-") || n == "azureml" || n == "inference-schema";
}

std::string Tail(const std::string& text, size_t max) {
  return text.size() > max ? absl::StrCat("...", text.substr(text.size() - max)) : text;
}
}  // namespace

EnvironmentBuilder::EnvironmentBuilder(std::string home, std::string runtime_python)
    : home_(std::move(home)), runtime_python_(std::move(runtime_python)) {
  auto version = RunCommand({runtime_python_, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"}, 10s);
  if (version.ok() && version->exit_code == 0) runtime_version_ = std::string(absl::StripAsciiWhitespace(version->output));
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
    return BuiltEnvironment{python, false};
  }
  auto marker = ReadFile(absl::StrCat(EnvironmentsDirectory(home_), "/", hash, "/", kMarker));
  if (!marker.ok()) return std::nullopt;
  auto object = json::ParseObject(*marker, kMarker);
  if (!object.ok()) return std::nullopt;
  std::string python = json::GetString(*object, "python");
  if (!fs::exists(python)) return std::nullopt;
  log(absl::StrCat("Environment ", short_hash, ": cache hit (machine-wide), using ", python));
  return BuiltEnvironment{python, false};
}

absl::StatusOr<BuiltEnvironment> EnvironmentBuilder::Build(const Environment& env, const std::string& hash,
                                                           const Log& log) {
  if (auto cached = FromCache(env, hash, log)) return *cached;
  std::string short_hash = hash.substr(0, 12);
  std::string directory = absl::StrCat(EnvironmentsDirectory(home_), "/", hash);
  if (auto s = MakeDirectories(EnvironmentsDirectory(home_)); !s.ok()) return s;

  std::vector<std::string> requirements;
  if (env.python.conda_dependencies) {
    const CondaDependencies& conda = *env.python.conda_dependencies;
    if (!conda.python_version.empty() && !runtime_version_.empty() &&
        !absl::StartsWith(absl::StrCat(runtime_version_, "."), absl::StrCat(conda.python_version, ".")) &&
        conda.python_version != runtime_version_) {
      log(absl::StrCat("Warning: the environment pins Python ", conda.python_version, "; replicas run Python ",
                       runtime_version_, "."));
    }
    for (const auto& p : conda.conda_packages) requirements.push_back(CondaToPip(p));
    for (const auto& p : conda.pip_packages) requirements.push_back(p);
  }
  log(absl::StrCat("Environment ", short_hash, ": cache miss, resolving ", requirements.size(), " package",
                   requirements.size() == 1 ? "" : "s", " against ", runtime_python_));

  std::vector<std::string> install;
  if (!requirements.empty()) {
    std::vector<std::string> argv = {runtime_python_, "-c", kProbeScript};
    argv.insert(argv.end(), requirements.begin(), requirements.end());
    auto probe = RunCommand(argv, 60s);
    if (!probe.ok()) return probe.status();
    auto parsed = json::Parse(probe->exit_code == 0 ? probe->output : "");
    if (!parsed.ok() || !parsed->is_array()) {
      return MakeError(absl::StatusCode::kInternal, "EnvironmentBuildFailed",
                       absl::StrCat("Could not inspect the runtime's packages:\n", Tail(probe->output, 4000)));
    }
    for (const auto& item : parsed->as_array()) {
      const auto& o = item.as_object();
      std::string text = json::GetString(o, "requirement");
      std::string name = json::GetString(o, "name");
      if (!json::GetString(o, "error").empty()) {
        return MakeError(absl::StatusCode::kInvalidArgument, "EnvironmentBuildFailed",
                         absl::StrCat("The requirement '", text, "' cannot be read: ", json::GetString(o, "error")));
      }
      if (ProvidedByAmlcore(name)) {
        log(absl::StrCat("  skipped ", text, ": provided by amlcore"));
      } else if (const auto* installed = o.if_contains("installed"); installed && installed->is_string()) {
        bool matches = json::GetBool(o, "matches", true);
        log(absl::StrCat("  satisfied ", text, ": ", name, " ", json::Sv(installed->as_string()),
                         matches ? "" : " is installed (a different version; it is used as it is)"));
      } else {
        install.push_back(text);
      }
    }
  }

  std::string python = runtime_python_;
  if (install.empty()) {
    log(absl::StrCat("Environment ", short_hash, ": nothing to install, using the runtime's Python ", python));
  } else {
    std::string venv = absl::StrCat(directory, "/venv");
    std::error_code ec;
    fs::remove_all(directory, ec);
    log(absl::StrCat("  installing ", absl::StrJoin(install, " "), " into ", venv));
    auto created = RunCommand({runtime_python_, "-m", "venv", "--system-site-packages", "--without-pip", venv}, 5min);
    if (!created.ok()) return created.status();
    if (created->exit_code != 0) {
      fs::remove_all(directory, ec);
      return MakeError(absl::StatusCode::kFailedPrecondition, "EnvironmentBuildFailed",
                       absl::StrCat("Creating the virtual environment failed:\n", Tail(created->output, 6000)));
    }
    std::vector<std::string> argv = {absl::StrCat(venv, "/bin/python"), "-m", "pip", "install",
                                     "--disable-pip-version-check", "--no-input"};
    argv.insert(argv.end(), install.begin(), install.end());
    auto pip = RunCommand(argv, 30min);
    if (!pip.ok()) return pip.status();
    if (pip->exit_code != 0) {
      fs::remove_all(directory, ec);
      return MakeError(absl::StatusCode::kFailedPrecondition, "EnvironmentBuildFailed",
                       absl::StrCat("pip could not install ", absl::StrJoin(install, " "),
                                    pip->timed_out ? " (timed out)" : "", ". Its output:\n", Tail(pip->output, 6000)));
    }
    log(absl::StrCat("  installed ", absl::StrJoin(install, " ")));
    python = absl::StrCat(venv, "/bin/python");
  }
  if (auto s = MakeDirectories(directory); !s.ok()) return s;
  json::bj::object marker{{"python", python}, {"hash", hash}};
  if (auto s = WriteFileAtomic(absl::StrCat(directory, "/", kMarker), json::Serialize(marker), 0644); !s.ok()) return s;
  return BuiltEnvironment{python, true};
}

}  // namespace amlcore::backend::local
