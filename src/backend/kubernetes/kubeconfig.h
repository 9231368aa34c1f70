// Kubeconfig files, read the way kubectl reads them: the KUBECONFIG list merged (the first file to
// name a cluster, user or context wins; current-context comes from the first file that sets it),
// else
// ~/.kube/config, else an explicit path; one context resolved into what a client needs to reach its
// cluster and prove who it is. Relative file names in an entry are taken from the directory of the
// file that holds the entry. Errors name the file and what is missing or wrong.
//
//   absl::StatusOr<KubeContext> context = LoadKubeContext({.context = "myaks"});
//   // context->cluster.server == "https://myaks-dns-1234.hcp.westeurope.azmk8s.io:443"
#ifndef AMLCORE_BACKEND_KUBERNETES_KUBECONFIG_H_
#define AMLCORE_BACKEND_KUBERNETES_KUBECONFIG_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/json.h"

namespace amlcore::kubernetes {

// Which kubeconfig files to read and which of their contexts to use.
struct KubeconfigSource {
  // One file, which must exist; empty: the files KUBECONFIG lists (colon-separated, missing ones
  // skipped), or ~/.kube/config when KUBECONFIG is unset or empty.
  std::string path;
  // Empty: the current-context the files set.
  std::string context;
  // The values of KUBECONFIG and HOME; nullopt reads them from the environment.
  std::optional<std::string> kubeconfig_variable;
  std::optional<std::string> home;
};

// An exec credential plugin as a kubeconfig user declares it (client.authentication.k8s.io, as
// kubelogin for AKS uses).
struct ExecPluginConfig {
  std::string
      api_version;  // client.authentication.k8s.io/v1 or client.authentication.k8s.io/v1beta1
  // As written, or made absolute against the kubeconfig's directory when it contains a '/'.
  std::string command;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;  // added to amlcore's environment
  std::string install_hint;                              // shown when `command` cannot be found
  bool provide_cluster_info = false;
  std::string interactive_mode;  // Never, IfAvailable (the default) or Always
};

struct KubeCluster {
  std::string name;
  std::string server;  // https://host:port, possibly with a path prefix
  // PEM, from certificate-authority-data or the certificate-authority file; empty: the system's
  // CAs.
  std::string certificate_authority_pem;
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;
  // The cluster's "client.authentication.k8s.io/exec" extension, handed to exec plugins with
  // provideClusterInfo.
  std::optional<json::bj::value> exec_extension;
};

// Who the client is. At most one of token / token_file / basic auth / exec supplies the
// Authorization header; a client certificate may come with any of them.
struct KubeUser {
  std::string name;
  std::string token;
  std::string
      token_file;  // absolute; read again for each request, so that a rotated token is picked up
  std::string client_certificate_pem;
  std::string client_key_pem;
  std::string username;  // basic authentication, with password
  std::string password;
  std::optional<ExecPluginConfig> exec;
};

// One context of the merged kubeconfig, resolved.
struct KubeContext {
  std::string name;
  std::string namespace_name = "default";
  KubeCluster cluster;
  KubeUser user;
  // Where it came from, for messages: the file holding the context, and every file read.
  std::string file;
  std::vector<std::string> files;
};

absl::StatusOr<KubeContext> LoadKubeContext(const KubeconfigSource& source = {});

// The context of a process running in a pod: the API server from KUBERNETES_SERVICE_HOST and _PORT, the pod's
// service account token (read again for each request, as it rotates), CA and namespace from
// `account_directory`.
absl::StatusOr<KubeContext> LoadInClusterContext(
    const std::string& account_directory = "/var/run/secrets/kubernetes.io/serviceaccount");

// Reads `text` as YAML (a superset of JSON) into a JSON value: quoted scalars stay strings, plain
// ones become null, booleans and numbers where they read as such. Errors say where: "<what>: line
// 3, column 5: ...".
absl::StatusOr<json::bj::value> YamlToJson(const std::string& text, const std::string& what);

}  // namespace amlcore::kubernetes

#endif  // AMLCORE_BACKEND_KUBERNETES_KUBECONFIG_H_
