// Exec credential plugins, with small shell scripts as the plugin: both apiVersions, what the
// plugin is given (args, env, KUBERNETES_EXEC_INFO with and without cluster information), tokens
// and client certificates, caching until expiry against an injected clock, refresh after a refusal,
// and the messages of plugins that fail, are missing, hang or answer nonsense.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "backend/kubernetes/exec_credential.h"
#include "cpp/test_support.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace amlcore::kubernetes {
namespace {
using namespace std::chrono_literals;
using ::testing::HasSubstr;
namespace bj = json::bj;

constexpr char kV1[] = "client.authentication.k8s.io/v1";
constexpr char kV1beta1[] = "client.authentication.k8s.io/v1beta1";

class ExecCredentialTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) const { return absl::StrCat(dir_.path(), "/", name); }

  std::string Read(const std::string& name) const {
    std::ifstream in(Path(name));
    std::stringstream out;
    out << in.rdbuf();
    return out.str();
  }

  // An executable shell script called `name` with `body` after the #! line.
  std::string Script(const std::string& name, const std::string& body) {
    std::string path = Path(name);
    std::ofstream(path) << "#!/bin/sh\n" << body;
    chmod(path.c_str(), 0755);
    return path;
  }

  // A plugin that records its input (KUBERNETES_EXEC_INFO, $1, $PLUGIN_VAR), counts its runs, and
  // prints the contents of answer.json.
  std::string RecordingPlugin() {
    return Script("plugin", absl::StrCat("cd ", dir_.path(), "\n",
                                         "printf '%s' \"$KUBERNETES_EXEC_INFO\" > info.json\n"
                                         "printf '%s %s' \"$1\" \"$PLUGIN_VAR\" > input\n"
                                         "echo run >> runs\n"
                                         "cat answer.json\n"));
  }

  void Answer(const bj::object& answer) {
    std::ofstream(Path("answer.json")) << json::Serialize(answer);
  }

  static bj::object Credential(const std::string& api_version, bj::object status) {
    return {{"apiVersion", api_version}, {"kind", "ExecCredential"}, {"status", std::move(status)}};
  }

  KubeContext Context(ExecPluginConfig plugin) const {
    KubeContext context{.name = "aks", .file = Path("config")};
    context.cluster = {.name = "aks",
                       .server = "https://aks.example:443",
                       .certificate_authority_pem = "CA PEM",
                       .tls_server_name = "api.aks"};
    context.cluster.exec_extension = bj::object{{"audience", "app-id"}};
    context.user = {.name = "clusterUser", .exec = std::move(plugin)};
    return context;
  }

  int Runs() const {
    std::string runs = Read("runs");
    return static_cast<int>(std::count(runs.begin(), runs.end(), '\n'));
  }

  testing::TempHome dir_;
};

TEST_F(ExecCredentialTest, V1PluginGetsItsArgsEnvAndClusterInfoAndGivesAToken) {
  Answer(Credential(kV1, {{"token", "aad-token"}}));
  ExecCredentialSource source(Context({.api_version = kV1,
                                       .command = RecordingPlugin(),
                                       .args = {"get-token"},
                                       .env = {{"PLUGIN_VAR", "from-kubeconfig"}},
                                       .provide_cluster_info = true,
                                       .interactive_mode = "IfAvailable"}));
  auto credential = source.Get();
  ASSERT_TRUE(credential.ok()) << credential.status();
  EXPECT_EQ(credential->token, "aad-token");
  EXPECT_FALSE(credential->expiry.has_value());
  EXPECT_EQ(Read("input"), "get-token from-kubeconfig");
  auto info = json::Parse(Read("info.json"));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(*info, json::Parse(absl::StrCat(R"({"apiVersion":"client.authentication.k8s.io/v1",
      "kind":"ExecCredential","spec":{"interactive":false,"cluster":{"server":"https://aks.example:443",
      "tls-server-name":"api.aks","certificate-authority-data":")",
                                            absl::Base64Escape("CA PEM"),
                                            R"(","config":{"audience":"app-id"}}}})"))
                       .value());
}

TEST_F(ExecCredentialTest, V1beta1PluginWithoutClusterInfoGivesAClientCertificate) {
  Answer(
      Credential(kV1beta1, {{"clientCertificateData", "CERT PEM"}, {"clientKeyData", "KEY PEM"}}));
  ExecCredentialSource source(Context({.api_version = kV1beta1, .command = RecordingPlugin()}));
  auto credential = source.Get();
  ASSERT_TRUE(credential.ok()) << credential.status();
  EXPECT_EQ(credential->token, "");
  EXPECT_EQ(credential->client_certificate_pem, "CERT PEM");
  EXPECT_EQ(credential->client_key_pem, "KEY PEM");
  auto info = json::Parse(Read("info.json"));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(json::Serialize(*info),
            R"({"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential",)"
            R"("spec":{"interactive":false}})");
}

TEST_F(ExecCredentialTest, CachesTheCredentialUntilItExpires) {
  absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  Answer(Credential(kV1, {{"token", "t1"}, {"expirationTimestamp", "2027-01-15T08:00:00Z"}}));
  ExecCredentialSource source(Context({.api_version = kV1, .command = RecordingPlugin()}),
                              {.now = [&] { return now; }});
  auto first = source.Get();
  ASSERT_TRUE(first.ok()) << first.status();
  absl::Time expiry = absl::FromCivil(absl::CivilSecond(2027, 1, 15, 8, 0, 0), absl::UTCTimeZone());
  EXPECT_EQ(first->expiry, expiry);
  now = expiry - absl::Seconds(1);
  ASSERT_TRUE(source.Get().ok());
  EXPECT_EQ(Runs(), 1);
  EXPECT_EQ(source.runs(), 1);

  Answer(Credential(kV1, {{"token", "t2"}}));
  now = expiry;
  auto renewed = source.Get();
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  EXPECT_EQ(renewed->token, "t2");
  EXPECT_EQ(Runs(), 2);
}

TEST_F(ExecCredentialTest, RefreshRunsThePluginOnceForARejectedCredential) {
  Answer(Credential(kV1, {{"token", "revoked"}}));
  ExecCredentialSource source(Context({.api_version = kV1, .command = RecordingPlugin()}));
  auto rejected = source.Get();
  ASSERT_TRUE(rejected.ok()) << rejected.status();
  Answer(Credential(kV1, {{"token", "fresh"}}));
  auto fresh = source.Refresh(*rejected);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ(fresh->token, "fresh");
  // A second caller that saw the same rejected credential gets the fresh one without another run.
  auto again = source.Refresh(*rejected);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->token, "fresh");
  EXPECT_EQ(source.runs(), 2);
}

TEST_F(ExecCredentialTest, FailingPluginGivesItsExitCodeAndStderr) {
  std::string plugin = Script(
      "failing", "echo 'progress on stdout'\necho 'AADSTS50076: login required' >&2\nexit 3\n");
  ExecCredentialSource source(Context({.api_version = kV1, .command = plugin}));
  auto credential = source.Get();
  EXPECT_EQ(credential.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(credential.status().message(),
            absl::StrCat(
                "exec credential plugin \"", plugin, "\" of kubeconfig user \"clusterUser\" (",
                Path("config"),
                ") failed with exit code 3: AADSTS50076: login required; fix what it reports (for "
                "kubelogin, often: az login) and try again"));
}

TEST_F(ExecCredentialTest, MissingCommandShowsTheInstallHint) {
  ExecCredentialSource source(
      Context({.api_version = kV1beta1,
               .command = "amlcore-test-no-such-kubelogin",
               .install_hint = "kubelogin is not installed: run az aks install-cli\n"}));
  auto credential = source.Get();
  EXPECT_EQ(credential.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(
      credential.status().message(),
      absl::StrCat("exec credential plugin \"amlcore-test-no-such-kubelogin\" of kubeconfig user "
                   "\"clusterUser\" (",
                   Path("config"),
                   ") was not found on PATH. kubelogin is not installed: run az aks install-cli"));

  ExecCredentialSource by_path(Context({.api_version = kV1, .command = Path("bin/missing")}));
  EXPECT_THAT(by_path.Get().status().message(),
              HasSubstr("was not found. Install it, or fix exec.command in the kubeconfig."));
}

TEST_F(ExecCredentialTest, HangingPluginIsStoppedAfterTheTimeout) {
  std::string plugin = Script(
      "hanging", "echo 'To sign in, use a web browser to open the page' >&2\nexec sleep 60\n");
  ExecCredentialSource source(Context({.api_version = kV1, .command = plugin}), {.timeout = 200ms});
  auto credential = source.Get();
  EXPECT_EQ(credential.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(
      credential.status().message(),
      HasSubstr(
          "gave no credential within 0.2 s and was stopped (it said: To sign in, use a web browser "
          "to open the page); run it by hand"));
}

TEST_F(ExecCredentialTest, AnswersThatAreNotCredentialsAreExplained) {
  ExecCredentialSource source(Context({.api_version = kV1, .command = RecordingPlugin()}));
  Answer(Credential(kV1beta1, {{"token", "t"}}));
  EXPECT_THAT(source.Get().status().message(),
              HasSubstr("answered apiVersion \"client.authentication.k8s.io/v1beta1\", but the "
                        "kubeconfig asks for "
                        "client.authentication.k8s.io/v1"));
  Answer(Credential(kV1, {{"clientCertificateData", "CERT"}}));
  EXPECT_THAT(source.Get().status().message(),
              HasSubstr("status has only one of clientCertificateData and clientKeyData"));
  Answer(Credential(kV1, {{"expirationTimestamp", "2027-01-15T08:00:00Z"}}));
  EXPECT_THAT(source.Get().status().message(),
              HasSubstr("status has neither a token nor clientCertificateData"));
  Answer(Credential(kV1, {{"token", "t"}, {"expirationTimestamp", "tomorrow"}}));
  EXPECT_THAT(source.Get().status().message(),
              HasSubstr("status.expirationTimestamp \"tomorrow\" is not an RFC 3339 time"));
  std::ofstream(Path("answer.json")) << "Please visit https://microsoft.com/devicelogin";
  EXPECT_THAT(source.Get().status().message(),
              HasSubstr("answered something that is not an ExecCredential: its "
                        "output is not JSON"));
}

TEST_F(ExecCredentialTest, InteractiveOnlyPluginsAreRefused) {
  ExecCredentialSource source(
      Context({.api_version = kV1, .command = RecordingPlugin(), .interactive_mode = "Always"}));
  EXPECT_THAT(
      source.Get().status().message(),
      HasSubstr("needs interactiveMode Always, but amlcore runs plugins without a terminal"));
  EXPECT_EQ(source.runs(), 0);
}

}  // namespace
}  // namespace amlcore::kubernetes
