#include "backend/kubernetes/kubeconfig.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <deque>
#include <filesystem>
#include <map>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/http_types.h"

namespace amlcore::kubernetes {
namespace {
namespace bj = json::bj;
namespace fs = std::filesystem;

constexpr char kExecExtensionName[] = "client.authentication.k8s.io/exec";

bj::value PlainScalar(const std::string& text) {
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL")
    return nullptr;
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  int64_t integer;
  if (text.find_first_not_of("+-0123456789") == std::string::npos &&
      absl::SimpleAtoi(text, &integer)) {
    return integer;
  }
  double number;
  if (text.find_first_not_of("+-0123456789.eE") == std::string::npos &&
      text.find_first_of("0123456789") != std::string::npos && absl::SimpleAtod(text, &number)) {
    return number;
  }
  return bj::string(text);
}

bj::value NodeToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      // yaml-cpp tags quoted scalars "!" and plain ones "?"; only plain ones are typed.
      if (node.Tag() == "!") return bj::string(node.Scalar());
      return PlainScalar(node.Scalar());
    case YAML::NodeType::Sequence: {
      bj::array out;
      for (const auto& item : node) out.push_back(NodeToJson(item));
      return out;
    }
    case YAML::NodeType::Map: {
      bj::object out;
      for (const auto& entry : node) out[entry.first.as<std::string>()] = NodeToJson(entry.second);
      return out;
    }
    default:
      return nullptr;
  }
}

// An entry (cluster, user or context) and the file it came from.
struct Entry {
  const bj::object* body = nullptr;
  std::string file;
  std::string list;  // "clusters", "users" or "contexts", for messages
};

// The merged view of several files; each entry keeps its own file, which relative paths are
// resolved against.
struct MergedKubeconfig {
  std::vector<std::string> files;
  std::deque<bj::value>
      documents;  // owns what Entry::body points to (a deque: it never moves them)
  std::string current_context;
  std::map<std::string, Entry> clusters;
  std::map<std::string, Entry> users;
  std::map<std::string, Entry> contexts;
  std::vector<std::string> context_order;

  std::string Where() const { return absl::StrJoin(files, ":"); }
};

absl::Status Wrong(const std::string& file, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("kubeconfig ", file, ": ", what));
}

// A scalar field as text; kubeconfig values are strings, but a YAML author may leave them unquoted.
absl::StatusOr<std::string> Text(const bj::object& object, absl::string_view key,
                                 const Entry& entry, absl::string_view name) {
  const bj::value* value = object.if_contains(json::Bj(key));
  if (value == nullptr || value->is_null()) return std::string();
  if (value->is_string()) return std::string(value->as_string());
  if (value->is_int64()) return absl::StrCat(value->as_int64());
  if (value->is_double() || value->is_uint64()) return json::Serialize(*value);
  if (value->is_bool()) return std::string(value->as_bool() ? "true" : "false");
  return Wrong(entry.file,
               absl::StrCat(entry.list, " entry \"", name, "\": ", key, " must be a string"));
}

absl::StatusOr<bool> Flag(const bj::object& object, absl::string_view key, const Entry& entry,
                          absl::string_view name) {
  const bj::value* value = object.if_contains(json::Bj(key));
  if (value == nullptr || value->is_null()) return false;
  if (value->is_bool()) return value->as_bool();
  if (value->is_string() && (value->as_string() == "true" || value->as_string() == "false")) {
    return value->as_string() == "true";
  }
  return Wrong(entry.file,
               absl::StrCat(entry.list, " entry \"", name, "\": ", key, " must be true or false"));
}

std::string ResolvePath(const std::string& path, const std::string& kubeconfig_file) {
  if (path.empty() || fs::path(path).is_absolute()) return path;
  return (fs::path(kubeconfig_file).parent_path() / path).lexically_normal().string();
}

absl::StatusOr<std::string> ReadReferencedFile(const std::string& path, const Entry& entry,
                                               absl::string_view name, absl::string_view field) {
  auto content = ReadFile(path);
  if (!content.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("kubeconfig ", entry.file, ": ", entry.list, " entry \"", name, "\": ", field,
                     " ", path, " cannot be read: ", content.status().message()));
  }
  return content;
}

absl::StatusOr<std::string> DecodeData(const std::string& base64, const Entry& entry,
                                       absl::string_view name, absl::string_view field) {
  std::string decoded;
  std::string compact = absl::StrReplaceAll(base64, {{"\n", ""}, {" ", ""}, {"\r", ""}});
  if (!absl::Base64Unescape(compact, &decoded)) {
    return Wrong(entry.file,
                 absl::StrCat(entry.list, " entry \"", name, "\": ", field, " is not base64"));
  }
  return decoded;
}

absl::Status MergeFile(const std::string& file, MergedKubeconfig& merged) {
  auto text = ReadFile(file);
  if (!text.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("kubeconfig ", file, " cannot be read: ", text.status().message()));
  }
  auto document = YamlToJson(*text, absl::StrCat("kubeconfig ", file));
  if (!document.ok()) return document.status();
  merged.files.push_back(file);
  if (document->is_null()) return absl::OkStatus();  // an empty file adds nothing
  if (!document->is_object())
    return Wrong(file, "the file must hold a mapping (apiVersion, clusters, ...)");
  merged.documents.push_back(*std::move(document));
  const bj::object& root = merged.documents.back().as_object();
  if (merged.current_context.empty())
    merged.current_context = json::GetString(root, "current-context");
  for (const char* list : {"clusters", "users", "contexts"}) {
    const bj::value* items = root.if_contains(list);
    if (items == nullptr || items->is_null()) continue;
    if (!items->is_array()) return Wrong(file, absl::StrCat(list, " must be a list"));
    std::map<std::string, Entry>& into = list == std::string("clusters") ? merged.clusters
                                         : list == std::string("users")  ? merged.users
                                                                         : merged.contexts;
    // The field holding an entry's body is the singular of the list's name.
    std::string body_key(list, std::string(list).size() - 1);
    int index = 0;
    for (const bj::value& item : items->as_array()) {
      std::string name = item.is_object() ? json::GetString(item.as_object(), "name") : "";
      if (name.empty()) return Wrong(file, absl::StrCat(list, "[", index, "] has no name"));
      Entry entry{.file = file, .list = list};
      const bj::value* body = item.as_object().if_contains(body_key);
      static const bj::object kEmpty;
      if (body == nullptr || body->is_null()) {
        entry.body = &kEmpty;
      } else if (body->is_object()) {
        entry.body = &body->as_object();
      } else {
        return Wrong(file,
                     absl::StrCat(list, " entry \"", name, "\": ", body_key, " must be a mapping"));
      }
      if (!into.contains(name)) {
        into.emplace(name, entry);
        if (&into == &merged.contexts) merged.context_order.push_back(name);
      }
      ++index;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<KubeCluster> ResolveCluster(const std::string& name, const Entry& entry) {
  const bj::object& body = *entry.body;
  KubeCluster cluster{.name = name};
  auto server = Text(body, "server", entry, name);
  if (!server.ok()) return server.status();
  if (server->empty())
    return Wrong(entry.file, absl::StrCat("cluster \"", name, "\" has no server URL"));
  auto url = http::ParseUrl(*server);
  if (!url) {
    return Wrong(entry.file, absl::StrCat("cluster \"", name, "\": server \"", *server,
                                          "\" is not an http:// or https:// URL"));
  }
  cluster.server = *server;
  auto proxy = Text(body, "proxy-url", entry, name);
  if (!proxy.ok()) return proxy.status();
  if (!proxy->empty()) {
    return absl::UnimplementedError(
        absl::StrCat("kubeconfig ", entry.file, ": cluster \"", name, "\" sets proxy-url ", *proxy,
                     ", but amlcore reaches API servers only directly over TLS; remove proxy-url "
                     "or use a context whose "
                     "cluster is reachable without a proxy"));
  }
  auto skip = Flag(body, "insecure-skip-tls-verify", entry, name);
  if (!skip.ok()) return skip.status();
  cluster.insecure_skip_tls_verify = *skip;
  auto server_name = Text(body, "tls-server-name", entry, name);
  if (!server_name.ok()) return server_name.status();
  cluster.tls_server_name = *server_name;
  auto ca_data = Text(body, "certificate-authority-data", entry, name);
  auto ca_file = Text(body, "certificate-authority", entry, name);
  if (!ca_data.ok()) return ca_data.status();
  if (!ca_file.ok()) return ca_file.status();
  if (!ca_data->empty()) {
    auto pem = DecodeData(*ca_data, entry, name, "certificate-authority-data");
    if (!pem.ok()) return pem.status();
    cluster.certificate_authority_pem = *std::move(pem);
  } else if (!ca_file->empty()) {
    auto pem =
        ReadReferencedFile(ResolvePath(*ca_file, entry.file), entry, name, "certificate-authority");
    if (!pem.ok()) return pem.status();
    cluster.certificate_authority_pem = *std::move(pem);
  }
  if (cluster.insecure_skip_tls_verify && !cluster.certificate_authority_pem.empty()) {
    return Wrong(
        entry.file,
        absl::StrCat("cluster \"", name,
                     "\" sets both insecure-skip-tls-verify and a certificate authority; "
                     "keep the certificate authority and remove insecure-skip-tls-verify"));
  }
  if (const bj::value* extensions = body.if_contains("extensions");
      extensions && extensions->is_array()) {
    for (const bj::value& extension : extensions->as_array()) {
      if (!extension.is_object() ||
          json::GetString(extension.as_object(), "name") != kExecExtensionName)
        continue;
      if (const bj::value* value = extension.as_object().if_contains("extension"))
        cluster.exec_extension = *value;
    }
  }
  return cluster;
}

absl::StatusOr<ExecPluginConfig> ResolveExec(const bj::object& exec, const std::string& user,
                                             const Entry& entry) {
  ExecPluginConfig plugin;
  auto where = [&](absl::string_view what) {
    return Wrong(entry.file, absl::StrCat("user \"", user, "\": exec ", what));
  };
  auto field = [&](absl::string_view key) { return Text(exec, key, entry, user); };
  auto api_version = field("apiVersion");
  auto command = field("command");
  auto hint = field("installHint");
  auto mode = field("interactiveMode");
  for (const auto* value : {&api_version, &command, &hint, &mode}) {
    if (!value->ok()) return value->status();
  }
  plugin.api_version = *api_version;
  if (plugin.api_version != "client.authentication.k8s.io/v1" &&
      plugin.api_version != "client.authentication.k8s.io/v1beta1") {
    return where(absl::StrCat("apiVersion \"", plugin.api_version,
                              "\" is not supported; use client.authentication.k8s.io/v1 or "
                              "client.authentication.k8s.io/v1beta1"));
  }
  if (command->empty()) return where("has no command");
  // kubectl's rule: a command with a path separator is relative to the kubeconfig; a bare name is
  // on PATH.
  plugin.command =
      command->find('/') == std::string::npos ? *command : ResolvePath(*command, entry.file);
  plugin.install_hint = *hint;
  plugin.interactive_mode = mode->empty() ? "IfAvailable" : *mode;
  if (plugin.interactive_mode != "Never" && plugin.interactive_mode != "IfAvailable" &&
      plugin.interactive_mode != "Always") {
    return where(absl::StrCat("interactiveMode \"", plugin.interactive_mode,
                              "\" is not one of Never, IfAvailable, Always"));
  }
  auto provide = Flag(exec, "provideClusterInfo", entry, user);
  if (!provide.ok()) return provide.status();
  plugin.provide_cluster_info = *provide;
  if (const bj::value* args = exec.if_contains("args"); args && !args->is_null()) {
    if (!args->is_array()) return where("args must be a list of strings");
    for (const bj::value& arg : args->as_array()) {
      if (arg.is_string()) {
        plugin.args.emplace_back(arg.as_string());
      } else if (arg.is_number() || arg.is_bool()) {
        plugin.args.push_back(json::Serialize(arg));
      } else {
        return where("args must be a list of strings");
      }
    }
  }
  if (const bj::value* env = exec.if_contains("env"); env && !env->is_null()) {
    if (!env->is_array()) return where("env must be a list of {name, value}");
    for (const bj::value& item : env->as_array()) {
      if (!item.is_object()) return where("env must be a list of {name, value}");
      auto name = Text(item.as_object(), "name", entry, user);
      auto value = Text(item.as_object(), "value", entry, user);
      if (!name.ok()) return name.status();
      if (!value.ok()) return value.status();
      if (name->empty()) return where("env has an entry without a name");
      plugin.env.emplace_back(*name, *value);
    }
  }
  return plugin;
}

absl::StatusOr<KubeUser> ResolveUser(const std::string& name, const Entry& entry) {
  const bj::object& body = *entry.body;
  KubeUser user{.name = name};
  auto field = [&](absl::string_view key) { return Text(body, key, entry, name); };
  auto user_error = [&](absl::string_view what) {
    return Wrong(entry.file, absl::StrCat("user \"", name, "\" ", what));
  };
  if (body.contains("auth-provider")) {
    const bj::value& provider = body.at("auth-provider");
    std::string provider_name =
        provider.is_object() ? json::GetString(provider.as_object(), "name") : "";
    return user_error(
        absl::StrCat("uses auth-provider \"", provider_name,
                     "\", which Kubernetes clients no longer support; switch it to an exec plugin "
                     "(for AKS: kubelogin convert-kubeconfig -l azurecli)"));
  }
  auto token = field("token");
  auto token_file = field("tokenFile");
  auto username = field("username");
  auto password = field("password");
  auto cert_data = field("client-certificate-data");
  auto cert_file = field("client-certificate");
  auto key_data = field("client-key-data");
  auto key_file = field("client-key");
  for (const auto* value :
       {&token, &token_file, &username, &password, &cert_data, &cert_file, &key_data, &key_file}) {
    if (!value->ok()) return value->status();
  }
  user.token = *token;
  user.username = *username;
  user.password = *password;
  if (!token_file->empty()) {
    user.token_file = ResolvePath(*token_file, entry.file);
    if (auto readable = ReadReferencedFile(user.token_file, entry, name, "tokenFile");
        !readable.ok()) {
      return readable.status();
    }
  }
  if (!cert_data->empty()) {
    auto pem = DecodeData(*cert_data, entry, name, "client-certificate-data");
    if (!pem.ok()) return pem.status();
    user.client_certificate_pem = *std::move(pem);
  } else if (!cert_file->empty()) {
    auto pem =
        ReadReferencedFile(ResolvePath(*cert_file, entry.file), entry, name, "client-certificate");
    if (!pem.ok()) return pem.status();
    user.client_certificate_pem = *std::move(pem);
  }
  if (!key_data->empty()) {
    auto pem = DecodeData(*key_data, entry, name, "client-key-data");
    if (!pem.ok()) return pem.status();
    user.client_key_pem = *std::move(pem);
  } else if (!key_file->empty()) {
    auto pem = ReadReferencedFile(ResolvePath(*key_file, entry.file), entry, name, "client-key");
    if (!pem.ok()) return pem.status();
    user.client_key_pem = *std::move(pem);
  }
  if (user.client_certificate_pem.empty() != user.client_key_pem.empty()) {
    return user_error(user.client_key_pem.empty()
                          ? "has a client certificate but no client-key or client-key-data"
                          : "has a client key but no client-certificate or "
                            "client-certificate-data");
  }
  if (const bj::value* exec = body.if_contains("exec"); exec && !exec->is_null()) {
    if (!exec->is_object()) return user_error("exec must be a mapping");
    auto plugin = ResolveExec(exec->as_object(), name, entry);
    if (!plugin.ok()) return plugin.status();
    user.exec = *std::move(plugin);
  }
  bool bearer = !user.token.empty() || !user.token_file.empty();
  bool basic = !user.username.empty() || !user.password.empty();
  if (basic && (user.username.empty() || user.password.empty())) {
    return user_error("needs both username and password for basic authentication");
  }
  if (static_cast<int>(bearer) + static_cast<int>(basic) + static_cast<int>(user.exec.has_value()) >
      1) {
    return user_error(
        "sets more than one way to authenticate (token or tokenFile, username and password, exec); "
        "keep one");
  }
  return user;
}

std::string EnvironmentValue(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

// The files to read, in order, and how to describe where they came from when none is usable.
absl::StatusOr<std::vector<std::string>> KubeconfigFiles(const KubeconfigSource& source) {
  if (!source.path.empty()) {
    if (!fs::exists(source.path)) {
      return absl::NotFoundError(absl::StrCat("kubeconfig ", source.path, " does not exist"));
    }
    return std::vector<std::string>{source.path};
  }
  std::string variable = source.kubeconfig_variable.value_or(EnvironmentValue("KUBECONFIG"));
  if (!variable.empty()) {
    std::vector<std::string> files;
    std::set<std::string> seen;
    for (absl::string_view part : absl::StrSplit(variable, ':', absl::SkipEmpty())) {
      std::string file(part);
      if (seen.insert(file).second && fs::exists(file)) files.push_back(file);
    }
    if (files.empty()) {
      return absl::NotFoundError(absl::StrCat(
          "no kubeconfig found: none of the files KUBECONFIG lists exists (", variable, ")"));
    }
    return files;
  }
  std::string home = source.home.value_or(EnvironmentValue("HOME"));
  if (home.empty()) home = UserHomeDirectory();
  std::string file = absl::StrCat(home, "/.kube/config");
  if (!fs::exists(file)) {
    return absl::NotFoundError(
        absl::StrCat("no kubeconfig found: ", file,
                     " does not exist and KUBECONFIG is not set; for AKS run "
                     "`az aks get-credentials -g <resource group> -n <cluster>`, or name a "
                     "kubeconfig file explicitly"));
  }
  return std::vector<std::string>{file};
}

}  // namespace

absl::StatusOr<json::bj::value> YamlToJson(const std::string& text, const std::string& what) {
  try {
    return NodeToJson(YAML::Load(text));
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null())
      return absl::InvalidArgumentError(absl::StrCat(what, " is not valid YAML: ", e.msg));
    return absl::InvalidArgumentError(absl::StrCat(what, " is not valid YAML: line ",
                                                   e.mark.line + 1, ", column ", e.mark.column + 1,
                                                   ": ", e.msg));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(what, " cannot be read as YAML: ", e.what()));
  }
}

absl::StatusOr<KubeContext> LoadKubeContext(const KubeconfigSource& source) {
  auto files = KubeconfigFiles(source);
  if (!files.ok()) return files.status();
  MergedKubeconfig merged;
  for (const std::string& file : *files) {
    if (auto status = MergeFile(file, merged); !status.ok()) return status;
  }
  auto known_contexts = [&] {
    return merged.context_order.empty() ? std::string("none")
                                        : absl::StrJoin(merged.context_order, ", ");
  };
  std::string context_name = source.context.empty() ? merged.current_context : source.context;
  if (context_name.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "kubeconfig ", merged.Where(),
        " sets no current-context; name a context (contexts there: ", known_contexts(), ")"));
  }
  auto context_entry = merged.contexts.find(context_name);
  if (context_entry == merged.contexts.end()) {
    return absl::NotFoundError(absl::StrCat("kubeconfig context \"", context_name,
                                            "\" not found in ", merged.Where(),
                                            "; contexts there: ", known_contexts()));
  }
  const Entry& entry = context_entry->second;
  KubeContext context{.name = context_name, .file = entry.file, .files = merged.files};
  auto cluster_name = Text(*entry.body, "cluster", entry, context_name);
  auto user_name = Text(*entry.body, "user", entry, context_name);
  auto namespace_name = Text(*entry.body, "namespace", entry, context_name);
  for (const auto* value : {&cluster_name, &user_name, &namespace_name}) {
    if (!value->ok()) return value->status();
  }
  if (!namespace_name->empty()) context.namespace_name = *namespace_name;
  if (cluster_name->empty()) {
    return Wrong(entry.file, absl::StrCat("context \"", context_name, "\" names no cluster"));
  }
  auto cluster_entry = merged.clusters.find(*cluster_name);
  if (cluster_entry == merged.clusters.end()) {
    return absl::NotFoundError(absl::StrCat("kubeconfig ", merged.Where(), ": cluster \"",
                                            *cluster_name, "\" of context \"", context_name,
                                            "\" is not defined there"));
  }
  auto cluster = ResolveCluster(*cluster_name, cluster_entry->second);
  if (!cluster.ok()) return cluster.status();
  context.cluster = *std::move(cluster);
  // A context without a user is anonymous, as in kubectl; a named user must exist.
  if (!user_name->empty()) {
    auto user_entry = merged.users.find(*user_name);
    if (user_entry == merged.users.end()) {
      return absl::NotFoundError(absl::StrCat("kubeconfig ", merged.Where(), ": user \"",
                                              *user_name, "\" of context \"", context_name,
                                              "\" is not defined there"));
    }
    auto user = ResolveUser(*user_name, user_entry->second);
    if (!user.ok()) return user.status();
    context.user = *std::move(user);
  }
  return context;
}

absl::StatusOr<KubeContext> LoadInClusterContext(const std::string& account_directory) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || *host == '\0' || port == nullptr || *port == '\0') {
    return absl::FailedPreconditionError(
        "Not running in a Kubernetes pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set.");
  }
  KubeContext context;
  context.name = "in-cluster";
  absl::string_view h = host;
  // An IPv6 address goes in brackets in a URL.
  context.cluster.server = absl::StrCat("https://", absl::StrContains(h, ':') ? absl::StrCat("[", h, "]")
                                                                             : std::string(h), ":", port);
  auto ca = ReadFile(absl::StrCat(account_directory, "/ca.crt"));
  if (!ca.ok()) return ca.status();
  context.cluster.certificate_authority_pem = *ca;
  context.user.name = "service-account";
  context.user.token_file = absl::StrCat(account_directory, "/token");
  if (auto ns = ReadFile(absl::StrCat(account_directory, "/namespace")); ns.ok()) {
    context.namespace_name = std::string(absl::StripAsciiWhitespace(*ns));
  }
  context.file = account_directory;
  return context;
}

}  // namespace amlcore::kubernetes
