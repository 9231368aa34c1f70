#include "amlcore/environment.h"

#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/model_management.h"
#include "common/environment_config.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/json.h"
#include "common/process.h"
#include "domain/service_wire.h"

namespace amlcore {
namespace {
namespace bj = json::bj;
namespace fs = std::filesystem;
using internal::AsUserError;

absl::Status UserInvalid(absl::string_view message) {
  return AsUserError(MakeError(absl::StatusCode::kInvalidArgument, "UserError", message));
}

std::string Unquote(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  if (size_t hash = text.find(" #"); hash != absl::string_view::npos) text = absl::StripAsciiWhitespace(text.substr(0, hash));
  if (text.size() >= 2 && (text.front() == '"' || text.front() == '\'') && text.back() == text.front()) {
    text = text.substr(1, text.size() - 2);
  }
  return std::string(text);
}
}  // namespace

CondaDependencies CondaDependencies::Create(std::vector<std::string> pip_packages,
                                            std::vector<std::string> conda_packages, std::string python_version) {
  CondaDependencies c;
  c.pip_packages = std::move(pip_packages);
  for (auto& p : conda_packages) {
    if (absl::StartsWith(p, "python=") || absl::StartsWith(p, "python==")) {
      c.python_version = p.substr(p.find_last_of('=') + 1);
    } else {
      c.conda_packages.push_back(std::move(p));
    }
  }
  if (!python_version.empty()) c.python_version = std::move(python_version);
  return c;
}

// Reads the subset of YAML conda environment files use: top-level keys, "- item" lists, and the nested
// "- pip:" list under dependencies.
absl::StatusOr<CondaDependencies> CondaDependencies::Parse(absl::string_view yaml) {
  CondaDependencies c;
  c.name.clear();
  std::string section;
  bool in_pip = false;
  int pip_indent = -1;
  int line_number = 0;
  for (absl::string_view raw : absl::StrSplit(yaml, '\n')) {
    ++line_number;
    absl::string_view line = raw;
    if (absl::ConsumeSuffix(&line, "\r")) {
    }
    absl::string_view trimmed = absl::StripAsciiWhitespace(line);
    if (trimmed.empty() || trimmed.front() == '#') continue;
    int indent = static_cast<int>(line.find_first_not_of(' '));
    if (indent == 0 && trimmed.front() != '-') {
      size_t colon = trimmed.find(':');
      if (colon == absl::string_view::npos) {
        return UserInvalid(absl::StrCat("Conda file line ", line_number, ": expected 'key:' or '- item', found '",
                                        trimmed, "'."));
      }
      section = std::string(trimmed.substr(0, colon));
      in_pip = false;
      std::string value = Unquote(trimmed.substr(colon + 1));
      if (section == "name") c.name = value;
      continue;
    }
    if (trimmed.front() != '-') {
      return UserInvalid(absl::StrCat("Conda file line ", line_number, ": expected a list item ('- ...'), found '",
                                      trimmed, "'."));
    }
    std::string item = Unquote(trimmed.substr(1));
    if (in_pip && indent > pip_indent) {
      c.pip_packages.push_back(item);
      continue;
    }
    in_pip = false;
    if (section == "channels") {
      c.channels.push_back(item);
    } else if (section == "dependencies") {
      if (item == "pip:" || absl::StartsWith(item, "pip:")) {
        in_pip = true;
        pip_indent = indent;
      } else if (absl::StartsWith(item, "python=") || absl::StartsWith(item, "python==")) {
        c.python_version = item.substr(item.find_last_of('=') + 1);
      } else if (item != "python" && item != "pip" && !absl::StartsWith(item, "pip=")) {
        c.conda_packages.push_back(item);
      }
    }
  }
  if (c.name.empty()) c.name = "project_environment";
  return c;
}

absl::StatusOr<CondaDependencies> CondaDependencies::FromFile(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return AsUserError(text.status());
  return Parse(*text);
}

std::string CondaDependencies::Serialize() const {
  std::string out = absl::StrCat("name: ", name, "\n");
  if (!channels.empty()) {
    out += "channels:\n";
    for (const auto& ch : channels) absl::StrAppend(&out, "  - ", ch, "\n");
  }
  out += "dependencies:\n";
  absl::StrAppend(&out, "  - python=", python_version.empty() ? "3.11" : python_version, "\n");
  for (const auto& p : conda_packages) absl::StrAppend(&out, "  - ", p, "\n");
  if (!pip_packages.empty()) {
    out += "  - pip:\n";
    for (const auto& p : pip_packages) absl::StrAppend(&out, "    - ", p, "\n");
  }
  return out;
}

absl::StatusOr<Environment> Environment::FromPipRequirements(absl::string_view name, const std::string& file_path) {
  auto text = ReadFile(file_path);
  if (!text.ok()) return AsUserError(text.status());
  Environment e;
  e.name = std::string(name);
  CondaDependencies c;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    if (size_t hash = line.find('#'); hash != absl::string_view::npos) line = line.substr(0, hash);
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    if (line.front() == '-') {
      return UserInvalid(absl::StrCat("Requirements file ", file_path, ": pip options such as '", line,
                                      "' are not supported; list packages only."));
    }
    c.pip_packages.emplace_back(line);
  }
  e.python.conda_dependencies = std::move(c);
  return e;
}

absl::StatusOr<Environment> Environment::FromCondaSpecification(absl::string_view name, const std::string& file_path) {
  auto conda = CondaDependencies::FromFile(file_path);
  if (!conda.ok()) return conda.status();
  Environment e;
  e.name = std::string(name);
  e.python.conda_dependencies = std::move(*conda);
  return e;
}

std::string Environment::Hash() const { return domain::EnvironmentHash(*this); }

std::string Environment::Serialize() const { return json::Serialize(domain::EnvironmentToJson(*this)); }

absl::StatusOr<Environment> Environment::Deserialize(absl::string_view text) {
  auto object = json::ParseObject(text, "Environment");
  if (!object.ok()) return AsUserError(object.status());
  auto env = domain::EnvironmentFromJson(*object);
  if (!env.ok()) return AsUserError(env.status());
  return env;
}

absl::StatusOr<Environment> Environment::Register(const Workspace& ws) const {
  if (name.empty()) return UserInvalid("An environment needs a name to be registered.");
  internal::CallOptions call;
  call.idempotent = false;
  auto reply = ws.connection()->Call("POST", absl::StrCat(internal::ModelManagementPath(ws), "/environments"),
                                     Serialize(), call);
  if (!reply.ok()) return AsUserError(reply.status());
  return Deserialize(reply->body);
}

absl::StatusOr<Environment> Environment::Get(const Workspace& ws, absl::string_view name,
                                             std::optional<int64_t> version) {
  std::string path = absl::StrCat(internal::ModelManagementPath(ws), "/environments/", http::UrlEncode(name),
                                  version ? absl::StrCat("?version=", *version) : "");
  auto reply = ws.connection()->Call("GET", path);
  if (!reply.ok()) return AsUserError(reply.status());
  return Deserialize(reply->body);
}

absl::StatusOr<std::vector<Environment>> Environment::List(const Workspace& ws) {
  auto reply = ws.connection()->Call("GET", absl::StrCat(internal::ModelManagementPath(ws), "/environments"));
  if (!reply.ok()) return AsUserError(reply.status());
  auto object = json::ParseObject(reply->body, "Environment list");
  if (!object.ok()) return object.status();
  std::vector<Environment> out;
  if (const bj::value* value = object->if_contains("value"); value && value->is_array()) {
    for (const auto& item : value->as_array()) {
      if (!item.is_object()) continue;
      auto env = domain::EnvironmentFromJson(item.as_object());
      if (env.ok()) out.push_back(std::move(*env));
    }
  }
  return out;
}

absl::Status InferenceConfig::Validate() const {
  if (entry_script.empty()) return UserInvalid("Error, must provide an entry_script.");
  fs::path script = source_directory.empty() ? fs::path(entry_script) : fs::path(source_directory) / entry_script;
  std::error_code ec;
  if (!source_directory.empty() && !fs::is_directory(source_directory, ec)) {
    return UserInvalid(absl::StrCat("Error, source_directory ", source_directory, " does not exist."));
  }
  if (!fs::is_regular_file(script, ec)) {
    return UserInvalid(absl::StrCat("Error, provided entry_script ", entry_script, " does not exist",
                                    source_directory.empty() ? "" : absl::StrCat(" in source_directory ", source_directory),
                                    "."));
  }
  if (script.extension() != ".py") {
    return UserInvalid(absl::StrCat("Error, entry_script ", entry_script, " must be a Python file ending in .py."));
  }
  if (environment) {
    std::vector<std::string> conflicting;
    if (!runtime.empty()) conflicting.push_back("runtime");
    if (!conda_file.empty()) conflicting.push_back("conda_file");
    if (!extra_docker_file_steps.empty()) conflicting.push_back("extra_docker_file_steps");
    if (enable_gpu.has_value()) conflicting.push_back("enable_gpu");
    if (!cuda_version.empty()) conflicting.push_back("cuda_version");
    if (!base_image.empty()) conflicting.push_back("base_image");
    if (!conflicting.empty()) {
      return UserInvalid(absl::StrCat("Error, environment cannot be used together with ",
                                      absl::StrJoin(conflicting, ", "),
                                      "; put those settings on the Environment instead."));
    }
  }
  if (!runtime.empty() && runtime != "python" && runtime != "spark-py") {
    return UserInvalid(absl::StrCat("Error, runtime '", runtime, "' is not supported; use 'python'."));
  }
  if (!conda_file.empty()) {
    fs::path conda = source_directory.empty() ? fs::path(conda_file) : fs::path(source_directory) / conda_file;
    if (!fs::is_regular_file(conda, ec) && !fs::is_regular_file(conda_file, ec)) {
      return UserInvalid(absl::StrCat("Error, conda_file ", conda_file, " does not exist."));
    }
  }
  // The script must at least parse; the check runs in the Python replicas will use.
  auto parsed = RunCommand({EnvironmentConfig::Load().runtime_python, "-c",
                            "import ast, sys\n"
                            "path = sys.argv[1]\n"
                            "try:\n"
                            "    ast.parse(open(path, 'rb').read(), path)\n"
                            "except SyntaxError as e:\n"
                            "    print('%s, line %s: %s' % (e.filename, e.lineno, e.msg))\n"
                            "    sys.exit(1)\n",
                            script.string()},
                           std::chrono::seconds(30));
  if (parsed.ok() && parsed->exit_code == 1) {
    return UserInvalid(absl::StrCat("Error, entry_script ", entry_script, " is not valid Python: ",
                                    absl::StripAsciiWhitespace(parsed->output)));
  }
  return absl::OkStatus();
}

absl::StatusOr<Environment> InferenceConfig::EffectiveEnvironment() const {
  if (environment) return *environment;
  Environment e;
  e.name = "inference-environment";
  if (!conda_file.empty()) {
    fs::path conda = source_directory.empty() ? fs::path(conda_file) : fs::path(source_directory) / conda_file;
    std::error_code ec;
    auto parsed = CondaDependencies::FromFile(fs::is_regular_file(conda, ec) ? conda.string() : conda_file);
    if (!parsed.ok()) return parsed.status();
    e.python.conda_dependencies = std::move(*parsed);
  }
  e.docker.base_image = base_image;
  e.docker.base_dockerfile = extra_docker_file_steps;
  return e;
}

}  // namespace amlcore
