// Credentials from a kubeconfig user's exec plugin (client.authentication.k8s.io/v1 and v1beta1, as
// kubelogin for AKS speaks them): the plugin runs with its args and env and KUBERNETES_EXEC_INFO
// (never interactive; the cluster's details when provideClusterInfo), and prints an ExecCredential
// whose status holds a bearer token or a client certificate and key, and maybe when they expire.
// The answer is kept until then.
//
// Errors: a plugin not found says so with its installHint (kFailedPrecondition); one that fails
// gives its exit code and stderr (kUnauthenticated); one that hangs is killed after the timeout
// (kDeadlineExceeded); an answer that is not an ExecCredential of the configured apiVersion says
// what is wrong (kFailedPrecondition).
#ifndef AMLCORE_BACKEND_KUBERNETES_EXEC_CREDENTIAL_H_
#define AMLCORE_BACKEND_KUBERNETES_EXEC_CREDENTIAL_H_

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "backend/kubernetes/kubeconfig.h"

namespace amlcore::kubernetes {

struct ExecCredential {
  std::string token;
  std::string client_certificate_pem;
  std::string client_key_pem;
  std::optional<absl::Time> expiry;  // nullopt: valid until the server refuses it
};

struct ExecPluginOptions {
  // kubelogin may ask Azure for a token, which can take a while.
  std::chrono::milliseconds timeout{60000};
  std::function<absl::Time()> now;  // absl::Now when empty; tests set it
};

// Runs the exec plugin of a context's user and caches its credential until it expires.
//
//   ExecCredentialSource source(*context);  // context->user.exec is set
//   absl::StatusOr<ExecCredential> credential = source.Get();
class ExecCredentialSource {
 public:
  explicit ExecCredentialSource(const KubeContext& context, ExecPluginOptions options = {});

  // The cached credential while it has not expired, else a fresh one from the plugin. Thread-safe.
  absl::StatusOr<ExecCredential> Get();
  // A fresh credential in place of `rejected`, which the server refused (401). When another caller
  // has already replaced it, that newer credential is returned without running the plugin again.
  absl::StatusOr<ExecCredential> Refresh(const ExecCredential& rejected);
  // How many times the plugin has run; tests check that the cache works.
  int runs() const;

 private:
  absl::StatusOr<ExecCredential> RunPlugin();
  std::string Describe() const;
  std::string ExecInfo() const;
  absl::Time Now() const { return options_.now ? options_.now() : absl::Now(); }

  ExecPluginConfig plugin_;
  KubeCluster cluster_;
  std::string user_name_;
  std::string kubeconfig_file_;
  ExecPluginOptions options_;
  mutable std::mutex mu_;
  std::optional<ExecCredential> cached_;
  int runs_ = 0;
};

// Parses what a plugin printed: an ExecCredential of `api_version` with a token or a certificate
// and key.
absl::StatusOr<ExecCredential> ParseExecCredential(absl::string_view output,
                                                   absl::string_view api_version);

}  // namespace amlcore::kubernetes

#endif  // AMLCORE_BACKEND_KUBERNETES_EXEC_CREDENTIAL_H_
