// Kubeconfig loading: KUBECONFIG lists merged as kubectl merges them, ~/.kube/config, explicit
// paths, named and current contexts, every credential form, file names relative to the kubeconfig,
// and the messages of what is missing or wrong. Files are written to a temporary directory; nothing
// reads the real environment.
#include <filesystem>
#include <fstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "backend/kubernetes/kubeconfig.h"
#include "cpp/test_support.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace amlcore::kubernetes {
namespace {
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

class KubeconfigTest : public ::testing::Test {
 protected:
  // Writes `content` to `relative` under the temporary directory; returns the absolute path.
  std::string Write(const std::string& relative, const std::string& content) {
    std::filesystem::path path = std::filesystem::path(dir_.path()) / relative;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << content;
    return path.string();
  }
  // Loads with KUBECONFIG set to `variable` and HOME to the temporary directory.
  absl::StatusOr<KubeContext> LoadFrom(const std::string& variable,
                                       const std::string& context = "") {
    return LoadKubeContext(
        {.context = context, .kubeconfig_variable = variable, .home = dir_.path()});
  }
  // A kubeconfig with one cluster, one user (its body given) and one context, all called `name`.
  static std::string OneContext(const std::string& name, const std::string& user_body,
                                const std::string& cluster_extra = "") {
    return absl::StrCat("apiVersion: v1\nkind: Config\ncurrent-context: ", name,
                        "\nclusters:\n- name: ", name, "\n  cluster:\n    server: https://", name,
                        ".example:6443\n", cluster_extra, "contexts:\n- name: ", name,
                        "\n  context:\n    cluster: ", name, "\n    user: ", name,
                        "\nusers:\n- name: ", name, "\n  user:\n", user_body);
  }

  testing::TempHome dir_;
};

TEST_F(KubeconfigTest, MergesKubeconfigListWhereTheFirstFileToNameAnEntryWins) {
  std::string a = Write("a.yaml", R"(
clusters:
- name: shared
  cluster: {server: "https://from-a:6443"}
contexts:
- name: work
  context: {cluster: shared, user: alice, namespace: ml}
users:
- name: alice
  user: {token: token-from-a}
)");
  std::string b = Write("b.yaml", R"(
current-context: work
clusters:
- name: shared
  cluster: {server: "https://from-b:6443"}
contexts:
- name: work
  context: {cluster: shared, user: bob}
- name: other
  context: {cluster: shared, user: bob}
users:
- name: bob
  user: {token: token-from-b}
)");
  std::string c = Write("c.yaml", "current-context: other\n");
  // Empty entries, duplicates and missing files are skipped, as kubectl skips them.
  auto context = LoadFrom(absl::StrCat(a, "::", dir_.path(), "/missing.yaml:", b, ":", c, ":", a));
  ASSERT_TRUE(context.ok()) << context.status();
  EXPECT_EQ(context->name, "work");  // current-context from b, the first file that sets it
  EXPECT_EQ(context->cluster.server, "https://from-a:6443");
  EXPECT_EQ(context->user.name, "alice");
  EXPECT_EQ(context->user.token, "token-from-a");
  EXPECT_EQ(context->namespace_name, "ml");
  EXPECT_EQ(context->file, a);
  EXPECT_THAT(context->files, ElementsAre(a, b, c));

  auto other = LoadFrom(absl::StrCat(a, ":", b), "other");
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(other->user.token, "token-from-b");
  EXPECT_EQ(other->namespace_name, "default");
}

TEST_F(KubeconfigTest, ReadsHomeKubeConfigWhenKubeconfigIsUnsetOrEmpty) {
  Write(".kube/config", OneContext("myaks", "    token: t\n"));
  auto context = LoadFrom("");
  ASSERT_TRUE(context.ok()) << context.status();
  EXPECT_EQ(context->name, "myaks");
  EXPECT_EQ(context->file, absl::StrCat(dir_.path(), "/.kube/config"));
}

TEST_F(KubeconfigTest, ExplicitPathIsTheOnlyFileRead) {
  Write(".kube/config", OneContext("home", "    token: t\n"));
  std::string file = Write("elsewhere/config.yaml", OneContext("explicit", "    token: t\n"));
  auto context = LoadKubeContext({.path = file, .kubeconfig_variable = "", .home = dir_.path()});
  ASSERT_TRUE(context.ok()) << context.status();
  EXPECT_EQ(context->name, "explicit");

  auto missing = LoadKubeContext({.path = dir_.path() + "/nope.yaml", .kubeconfig_variable = ""});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(),
            absl::StrCat("kubeconfig ", dir_.path(), "/nope.yaml does not exist"));
}

TEST_F(KubeconfigTest, SaysWhatIsMissingWhenNoKubeconfigExists) {
  auto none = LoadFrom("");
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(none.status().message(), HasSubstr(absl::StrCat("no kubeconfig found: ", dir_.path(),
                                                              "/.kube/config does not exist")));
  EXPECT_THAT(none.status().message(), HasSubstr("az aks get-credentials"));

  auto listed = LoadFrom(dir_.path() + "/x:" + dir_.path() + "/y");
  EXPECT_THAT(listed.status().message(), HasSubstr("none of the files KUBECONFIG lists exists"));
}

TEST_F(KubeconfigTest, UnknownContextListsTheContextsThere) {
  std::string file = Write("config", R"(
current-context: a
clusters: [{name: c, cluster: {server: "https://c"}}]
contexts:
- {name: a, context: {cluster: c}}
- {name: b, context: {cluster: c}}
)");
  auto context = LoadFrom(file, "myaks");
  EXPECT_EQ(context.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(context.status().message(), absl::StrCat("kubeconfig context \"myaks\" not found in ",
                                                     file, "; contexts there: a, b"));

  // A context without a user is anonymous.
  auto anonymous = LoadFrom(file);
  ASSERT_TRUE(anonymous.ok()) << anonymous.status();
  EXPECT_EQ(anonymous->user.name, "");
}

TEST_F(KubeconfigTest, NoCurrentContextAsksForOne) {
  std::string file = Write("config", R"(
clusters: [{name: c, cluster: {server: "https://c"}}]
contexts: [{name: a, context: {cluster: c}}]
)");
  auto context = LoadFrom(file);
  EXPECT_EQ(context.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(context.status().message(),
            absl::StrCat("kubeconfig ", file,
                         " sets no current-context; name a context (contexts there: a)"));
}

TEST_F(KubeconfigTest, MissingClusterOrUserIsNamed) {
  std::string file = Write("config", R"(
current-context: a
clusters: [{name: c, cluster: {server: "https://c"}}]
contexts:
- {name: a, context: {cluster: nowhere, user: u}}
- {name: b, context: {cluster: c, user: nobody}}
- {name: d, context: {cluster: c, user: u}}
users: [{name: u, user: {token: t}}]
)");
  EXPECT_EQ(LoadFrom(file).status().message(),
            absl::StrCat("kubeconfig ", file,
                         ": cluster \"nowhere\" of context \"a\" is not defined there"));
  EXPECT_EQ(
      LoadFrom(file, "b").status().message(),
      absl::StrCat("kubeconfig ", file, ": user \"nobody\" of context \"b\" is not defined there"));
  EXPECT_TRUE(LoadFrom(file, "d").ok());
}

TEST_F(KubeconfigTest, FilesAreRelativeToTheKubeconfigThatNamesThem) {
  Write("kube/ca.pem", "CA PEM");
  Write("certs/client.pem", "CLIENT CERT");
  Write("certs/client.key", "CLIENT KEY");
  Write("kube/token", "file-token\n");
  std::string file = Write("kube/config", OneContext("rel",
                                                     "    client-certificate: ../certs/client.pem\n"
                                                     "    client-key: ../certs/client.key\n"
                                                     "    tokenFile: token\n",
                                                     "    certificate-authority: ca.pem\n"));
  auto context = LoadFrom(file);
  ASSERT_TRUE(context.ok()) << context.status();
  EXPECT_EQ(context->cluster.certificate_authority_pem, "CA PEM");
  EXPECT_EQ(context->user.client_certificate_pem, "CLIENT CERT");
  EXPECT_EQ(context->user.client_key_pem, "CLIENT KEY");
  // Read again at each request, so only its absolute name is kept.
  EXPECT_EQ(context->user.token_file, absl::StrCat(dir_.path(), "/kube/token"));
  EXPECT_EQ(context->user.token, "");
}

TEST_F(KubeconfigTest, InlineDataIsBase64AndWinsOverFiles) {
  std::string file =
      Write("config",
            OneContext("inline",
                       absl::StrCat("    client-certificate-data: ", absl::Base64Escape("CERT"),
                                    "\n", "    client-key-data: ", absl::Base64Escape("KEY"), "\n",
                                    "    client-key: /does/not/matter\n"),
                       absl::StrCat("    certificate-authority-data: ", absl::Base64Escape("CA"),
                                    "\n", "    tls-server-name: api.internal\n")));
  auto context = LoadFrom(file);
  ASSERT_TRUE(context.ok()) << context.status();
  EXPECT_EQ(context->cluster.certificate_authority_pem, "CA");
  EXPECT_EQ(context->cluster.tls_server_name, "api.internal");
  EXPECT_FALSE(context->cluster.insecure_skip_tls_verify);
  EXPECT_EQ(context->user.client_certificate_pem, "CERT");
  EXPECT_EQ(context->user.client_key_pem, "KEY");

  std::string bad =
      Write("bad", OneContext("bad", "    token: t\n", "    certificate-authority-data: '%%%'\n"));
  EXPECT_EQ(LoadFrom(bad).status().message(),
            absl::StrCat("kubeconfig ", bad,
                         ": clusters entry \"bad\": certificate-authority-data is not base64"));
}

TEST_F(KubeconfigTest, UnreadableReferencedFilesNameTheFileAndEntry) {
  std::string file = Write("config", OneContext("u", "    tokenFile: gone/token\n"));
  auto context = LoadFrom(file);
  EXPECT_EQ(context.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(context.status().message(),
              HasSubstr(absl::StrCat("kubeconfig ", file, ": users entry \"u\": tokenFile ",
                                     dir_.path(), "/gone/token cannot be read")));
}

TEST_F(KubeconfigTest, BasicAuthNeedsBothHalves) {
  std::string good =
      Write("good", OneContext("basic", "    username: admin\n    password: secret\n"));
  auto context = LoadFrom(good);
  ASSERT_TRUE(context.ok()) << context.status();
  EXPECT_EQ(context->user.username, "admin");
  EXPECT_EQ(context->user.password, "secret");

  std::string half = Write("half", OneContext("half", "    username: admin\n"));
  EXPECT_EQ(LoadFrom(half).status().message(),
            absl::StrCat("kubeconfig ", half,
                         ": user \"half\" needs both username and password for basic "
                         "authentication"));
}

TEST_F(KubeconfigTest, ClientCertificateNeedsItsKey) {
  std::string file =
      Write("config", OneContext("c", absl::StrCat("    client-certificate-data: ",
                                                   absl::Base64Escape("CERT"), "\n")));
  EXPECT_EQ(
      LoadFrom(file).status().message(),
      absl::StrCat("kubeconfig ", file,
                   ": user \"c\" has a client certificate but no client-key or client-key-data"));
}

TEST_F(KubeconfigTest, MoreThanOneWayToAuthenticateIsRefused) {
  std::string file =
      Write("config", OneContext("two", "    token: t\n    username: a\n    password: b\n"));
  EXPECT_THAT(LoadFrom(file).status().message(),
              HasSubstr("user \"two\" sets more than one way to authenticate"));
}

TEST_F(KubeconfigTest, ReadsExecPlugins) {
  std::string file = Write("dir/config", OneContext("aad", R"(    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: kubelogin
      args: [get-token, --server-id, "6dae42f8", --login, azurecli]
      env:
      - {name: AAD_LOGIN_METHOD, value: azurecli}
      installHint: "install kubelogin: az aks install-cli"
      provideClusterInfo: true
)",
                                                    R"(    extensions:
    - name: client.authentication.k8s.io/exec
      extension: {audience: "6dae42f8", retries: 3}
)"));
  auto context = LoadFrom(file);
  ASSERT_TRUE(context.ok()) << context.status();
  ASSERT_TRUE(context->user.exec.has_value());
  const ExecPluginConfig& exec = *context->user.exec;
  EXPECT_EQ(exec.api_version, "client.authentication.k8s.io/v1beta1");
  EXPECT_EQ(exec.command, "kubelogin");  // a bare name is looked up on PATH
  EXPECT_THAT(exec.args,
              ElementsAre("get-token", "--server-id", "6dae42f8", "--login", "azurecli"));
  EXPECT_THAT(exec.env, ElementsAre(Pair("AAD_LOGIN_METHOD", "azurecli")));
  EXPECT_EQ(exec.install_hint, "install kubelogin: az aks install-cli");
  EXPECT_TRUE(exec.provide_cluster_info);
  EXPECT_EQ(exec.interactive_mode, "IfAvailable");
  ASSERT_TRUE(context->cluster.exec_extension.has_value());
  EXPECT_EQ(json::Serialize(*context->cluster.exec_extension),
            R"({"audience":"6dae42f8","retries":3})");

  // A command with a '/' is relative to the kubeconfig's directory.
  std::string relative = Write("dir/relative", OneContext("rel", R"(    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./bin/plugin
      interactiveMode: Never
)"));
  auto rel = LoadFrom(relative);
  ASSERT_TRUE(rel.ok()) << rel.status();
  EXPECT_EQ(rel->user.exec->command, absl::StrCat(dir_.path(), "/dir/bin/plugin"));
  EXPECT_EQ(rel->user.exec->interactive_mode, "Never");
}

TEST_F(KubeconfigTest, ExecPluginWithUnknownApiVersionIsRefused) {
  std::string file = Write("config", OneContext("old", R"(    exec:
      apiVersion: client.authentication.k8s.io/v1alpha1
      command: plugin
)"));
  EXPECT_EQ(LoadFrom(file).status().message(),
            absl::StrCat(
                "kubeconfig ", file,
                ": user \"old\": exec apiVersion \"client.authentication.k8s.io/v1alpha1\" is not "
                "supported; use client.authentication.k8s.io/v1 or "
                "client.authentication.k8s.io/v1beta1"));
}

TEST_F(KubeconfigTest, AuthProviderPointsToKubelogin) {
  std::string file =
      Write("config", OneContext("legacy", "    auth-provider:\n      name: azure\n"));
  EXPECT_THAT(LoadFrom(file).status().message(),
              HasSubstr("user \"legacy\" uses auth-provider \"azure\", which Kubernetes clients no "
                        "longer support"));
  EXPECT_THAT(LoadFrom(file).status().message(), HasSubstr("kubelogin convert-kubeconfig"));
}

TEST_F(KubeconfigTest, ProxyUrlIsRefusedClearly) {
  std::string file = Write(
      "config", OneContext("proxied", "    token: t\n", "    proxy-url: http://proxy:3128\n"));
  auto context = LoadFrom(file);
  EXPECT_EQ(context.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(context.status().message(),
              HasSubstr(absl::StrCat("kubeconfig ", file,
                                     ": cluster \"proxied\" sets proxy-url http://proxy:3128, "
                                     "but amlcore reaches API servers only directly over TLS")));
}

TEST_F(KubeconfigTest, InsecureSkipTlsVerifyCannotComeWithACertificateAuthority) {
  std::string insecure =
      Write("insecure", OneContext("i", "    token: t\n", "    insecure-skip-tls-verify: true\n"));
  auto context = LoadFrom(insecure);
  ASSERT_TRUE(context.ok()) << context.status();
  EXPECT_TRUE(context->cluster.insecure_skip_tls_verify);

  std::string both = Write(
      "both",
      OneContext("b", "    token: t\n",
                 absl::StrCat("    insecure-skip-tls-verify: true\n",
                              "    certificate-authority-data: ", absl::Base64Escape("CA"), "\n")));
  EXPECT_THAT(
      LoadFrom(both).status().message(),
      HasSubstr("cluster \"b\" sets both insecure-skip-tls-verify and a certificate authority"));
}

TEST_F(KubeconfigTest, ServerMustBeAnHttpUrl) {
  std::string file = Write("config", R"(
current-context: a
clusters: [{name: c, cluster: {server: "ftp://c"}}, {name: empty, cluster: {}}]
contexts: [{name: a, context: {cluster: c}}, {name: e, context: {cluster: empty}}]
)");
  EXPECT_EQ(LoadFrom(file).status().message(),
            absl::StrCat("kubeconfig ", file,
                         ": cluster \"c\": server \"ftp://c\" is not an http:// or https:// URL"));
  EXPECT_EQ(LoadFrom(file, "e").status().message(),
            absl::StrCat("kubeconfig ", file, ": cluster \"empty\" has no server URL"));
}

TEST_F(KubeconfigTest, InvalidYamlNamesTheFileAndLine) {
  std::string file = Write("config", "clusters:\n- name: a\n  cluster: [unclosed\n");
  auto context = LoadFrom(file);
  EXPECT_EQ(context.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(context.status().message(),
              HasSubstr(absl::StrCat("kubeconfig ", file, " is not valid YAML: line ")));

  std::string list = Write("list", "- a\n- b\n");
  EXPECT_EQ(LoadFrom(list).status().message(),
            absl::StrCat("kubeconfig ", list,
                         ": the file must hold a mapping (apiVersion, clusters, ...)"));
}

TEST(YamlToJsonTest, TypesPlainScalarsAndKeepsQuotedOnesAsStrings) {
  auto value = YamlToJson("a: 1\nb: '1'\nc: true\nd: ~\ne: text\nf: [1.5, \"x\"]\n", "test");
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(json::Serialize(*value),
            R"({"a":1,"b":"1","c":true,"d":null,"e":"text","f":[1.5E0,"x"]})");
}

}  // namespace
}  // namespace amlcore::kubernetes
