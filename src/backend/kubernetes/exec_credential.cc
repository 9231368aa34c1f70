#include "backend/kubernetes/exec_credential.h"

#include <unistd.h>

#include <cstdlib>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/process.h"

namespace amlcore::kubernetes {
namespace {
namespace bj = json::bj;

// The end of a plugin's stderr is what explains its failure; the start may be a long device-code
// banner.
constexpr size_t kStderrShown = 2000;

std::string Tail(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  if (text.size() <= kStderrShown) return std::string(text);
  return absl::StrCat("...", text.substr(text.size() - kStderrShown));
}

bool IsExecutableFile(const std::string& path) { return access(path.c_str(), X_OK) == 0; }

// Whether `command` can be started: a path must be an executable file; a bare name must be one on
// PATH.
bool CommandExists(const std::string& command, const std::string& path_variable) {
  if (command.find('/') != std::string::npos) return IsExecutableFile(command);
  for (absl::string_view directory : absl::StrSplit(path_variable, ':', absl::SkipEmpty())) {
    if (IsExecutableFile(absl::StrCat(directory, "/", command))) return true;
  }
  return false;
}

bool SameCredential(const ExecCredential& a, const ExecCredential& b) {
  return a.token == b.token && a.client_certificate_pem == b.client_certificate_pem &&
         a.client_key_pem == b.client_key_pem;
}
}  // namespace

absl::StatusOr<ExecCredential> ParseExecCredential(absl::string_view output,
                                                   absl::string_view api_version) {
  auto not_credential = [&](absl::string_view why) {
    return absl::FailedPreconditionError(
        absl::StrCat("answered something that is not an ExecCredential: ", why));
  };
  auto parsed = json::Parse(output);
  if (!parsed.ok())
    return not_credential(absl::StrCat("its output is not JSON (", parsed.status().message(), ")"));
  if (!parsed->is_object()) return not_credential("its output is not a JSON object");
  const bj::object& document = parsed->as_object();
  std::string answered_version = json::GetString(document, "apiVersion");
  if (answered_version != api_version) {
    return absl::FailedPreconditionError(absl::StrCat("answered apiVersion \"", answered_version,
                                                      "\", but the kubeconfig asks for ",
                                                      api_version, "; make the two agree"));
  }
  if (json::GetString(document, "kind") != "ExecCredential") {
    return not_credential(absl::StrCat("kind is \"", json::GetString(document, "kind"), "\""));
  }
  const bj::object* status = json::GetObject(document, "status");
  if (status == nullptr) return not_credential("it has no status");
  ExecCredential credential;
  credential.token = json::GetString(*status, "token");
  credential.client_certificate_pem = json::GetString(*status, "clientCertificateData");
  credential.client_key_pem = json::GetString(*status, "clientKeyData");
  if (credential.client_certificate_pem.empty() != credential.client_key_pem.empty()) {
    return not_credential(
        "status has only one of clientCertificateData and clientKeyData; both are needed");
  }
  if (credential.token.empty() && credential.client_certificate_pem.empty()) {
    return not_credential("status has neither a token nor clientCertificateData and clientKeyData");
  }
  if (std::string expiry = json::GetString(*status, "expirationTimestamp"); !expiry.empty()) {
    absl::Time time;
    std::string error;
    if (!absl::ParseTime(absl::RFC3339_full, expiry, &time, &error)) {
      return not_credential(
          absl::StrCat("status.expirationTimestamp \"", expiry, "\" is not an RFC 3339 time"));
    }
    credential.expiry = time;
  }
  return credential;
}

ExecCredentialSource::ExecCredentialSource(const KubeContext& context, ExecPluginOptions options)
    : plugin_(context.user.exec.value_or(ExecPluginConfig{})),
      cluster_(context.cluster),
      user_name_(context.user.name),
      kubeconfig_file_(context.file),
      options_(std::move(options)) {}

std::string ExecCredentialSource::Describe() const {
  return absl::StrCat("exec credential plugin \"", plugin_.command, "\" of kubeconfig user \"",
                      user_name_, "\" (", kubeconfig_file_, ")");
}

std::string ExecCredentialSource::ExecInfo() const {
  bj::object spec{{"interactive", false}};
  if (plugin_.provide_cluster_info) {
    bj::object cluster{{"server", cluster_.server}};
    if (!cluster_.tls_server_name.empty()) cluster["tls-server-name"] = cluster_.tls_server_name;
    if (cluster_.insecure_skip_tls_verify) cluster["insecure-skip-tls-verify"] = true;
    if (!cluster_.certificate_authority_pem.empty()) {
      cluster["certificate-authority-data"] =
          absl::Base64Escape(cluster_.certificate_authority_pem);
    }
    if (cluster_.exec_extension) cluster["config"] = *cluster_.exec_extension;
    spec["cluster"] = std::move(cluster);
  }
  bj::object info{
      {"apiVersion", plugin_.api_version}, {"kind", "ExecCredential"}, {"spec", std::move(spec)}};
  return json::Serialize(info);
}

absl::StatusOr<ExecCredential> ExecCredentialSource::RunPlugin() {
  if (plugin_.command.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("kubeconfig user \"", user_name_, "\" (",
                                                      kubeconfig_file_, ") has no exec plugin"));
  }
  if (plugin_.interactive_mode == "Always") {
    return absl::FailedPreconditionError(absl::StrCat(
        Describe(),
        " needs interactiveMode Always, but amlcore runs plugins without a terminal; log in "
        "beforehand (for kubelogin: kubelogin convert-kubeconfig -l azurecli after az login)"));
  }
  std::vector<std::pair<std::string, std::string>> env = plugin_.env;
  env.emplace_back("KUBERNETES_EXEC_INFO", ExecInfo());
  const char* our_path = std::getenv("PATH");
  std::string path_variable = our_path == nullptr ? "/usr/local/bin:/usr/bin:/bin" : our_path;
  for (const auto& [name, value] : plugin_.env) {
    if (name == "PATH") path_variable = value;
  }
  if (!CommandExists(plugin_.command, path_variable)) {
    std::string hint = plugin_.install_hint.empty()
                           ? std::string("Install it, or fix exec.command in the kubeconfig.")
                           : std::string(absl::StripAsciiWhitespace(plugin_.install_hint));
    return absl::FailedPreconditionError(
        absl::StrCat(Describe(), " was not found",
                     plugin_.command.find('/') == std::string::npos ? " on PATH" : "", ". ", hint));
  }
  std::vector<std::string> argv = {plugin_.command};
  argv.insert(argv.end(), plugin_.args.begin(), plugin_.args.end());
  ++runs_;
  auto result = RunCommand(argv, options_.timeout, env, CommandOutput::kSeparate);
  if (!result.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(Describe(), " cannot run: ", result.status().message()));
  }
  if (result->timed_out) {
    // A plugin waiting for an interactive login (a device code) says so on stderr.
    std::string stderr_text = Tail(result->error_output);
    return absl::DeadlineExceededError(absl::StrCat(
        Describe(), " gave no credential within ", options_.timeout.count() / 1000.0,
        " s and was stopped",
        stderr_text.empty() ? std::string() : absl::StrCat(" (it said: ", stderr_text, ")"),
        "; run it by hand to see what it waits for (for kubelogin, log in beforehand: az login, "
        "then "
        "kubelogin convert-kubeconfig -l azurecli)"));
  }
  if (result->exit_code != 0) {
    std::string stderr_text = Tail(result->error_output);
    return absl::UnauthenticatedError(
        absl::StrCat(Describe(), " failed with exit code ", result->exit_code,
                     stderr_text.empty() ? std::string(" and printed nothing on stderr")
                                         : absl::StrCat(": ", stderr_text),
                     "; fix what it reports (for kubelogin, often: az login) and try again"));
  }
  auto credential = ParseExecCredential(result->output, plugin_.api_version);
  if (!credential.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(Describe(), " ", credential.status().message()));
  }
  return credential;
}

absl::StatusOr<ExecCredential> ExecCredentialSource::Get() {
  std::lock_guard lock(mu_);
  if (cached_ && (!cached_->expiry || Now() < *cached_->expiry)) return *cached_;
  cached_.reset();
  auto fresh = RunPlugin();
  if (!fresh.ok()) return fresh.status();
  cached_ = *fresh;
  return fresh;
}

absl::StatusOr<ExecCredential> ExecCredentialSource::Refresh(const ExecCredential& rejected) {
  std::lock_guard lock(mu_);
  if (cached_ && !SameCredential(*cached_, rejected) &&
      (!cached_->expiry || Now() < *cached_->expiry)) {
    return *cached_;
  }
  cached_.reset();
  auto fresh = RunPlugin();
  if (!fresh.ok()) return fresh.status();
  cached_ = *fresh;
  return fresh;
}

int ExecCredentialSource::runs() const {
  std::lock_guard lock(mu_);
  return runs_;
}

}  // namespace amlcore::kubernetes
