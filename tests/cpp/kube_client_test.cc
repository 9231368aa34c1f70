// KubeClient against an in-process HTTPS server on 127.0.0.1 that records each request and answers
// as a test says: the exact request lines, query strings and headers of every call; TLS as a
// kubeconfig describes it (the cluster's CA, client certificates the server requires,
// insecure-skip-tls-verify, tls-server-name); Kubernetes Status errors and their messages; retries
// of 429, 5xx and refused connections with an injected sleeper that records the waits instead of
// waiting; and exec plugins whose credential is refreshed on a 401. Certificates are made with the
// openssl command line in a temporary directory.
#include "backend/kubernetes/kube_client.h"

#include <sys/stat.h>

#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/errors.h"
#include "common/http_server.h"
#include "cpp/test_support.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace amlcore::kubernetes {
namespace {
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;
namespace bj = json::bj;

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

// Certificate authorities and the certificates they issue, made with the openssl command line.
class TestPki {
 public:
  explicit TestPki(std::string directory) : directory_(std::move(directory)) {}

  // A self-signed CA called `name`; returns its certificate (PEM).
  std::string MakeCa(const std::string& name) {
    std::string base = Base(name);
    Run(absl::StrCat(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "
        "'/CN=",
        name,
        "' -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign",
        " -keyout ", base, ".key -out ", base, ".pem"));
    return ReadText(base + ".pem");
  }

  struct Issued {
    std::string certificate_file;
    std::string key_file;
    std::string certificate_pem() const { return ReadText(certificate_file); }
    std::string key_pem() const { return ReadText(key_file); }
  };
  // A certificate for `name` issued by `ca`, with the given extensions ("subjectAltName=...").
  Issued Issue(const std::string& ca, const std::string& name, const std::string& extensions) {
    std::string base = Base(name);
    std::ofstream(base + ".ext") << "basicConstraints=CA:FALSE\n" << extensions;
    Run(absl::StrCat(
        "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj '/CN=",
        name, "' -keyout ", base, ".key -out ", base, ".csr"));
    Run(absl::StrCat("openssl x509 -req -in ", base, ".csr -CA ", Base(ca), ".pem -CAkey ",
                     Base(ca), ".key -set_serial ", ++serial_, " -days 2 -extfile ", base,
                     ".ext -out ", base, ".pem"));
    return {.certificate_file = base + ".pem", .key_file = base + ".key"};
  }
  Issued IssueServer(const std::string& ca, const std::string& name, const std::string& alt_names) {
    return Issue(ca, name,
                 absl::StrCat("subjectAltName=", alt_names, "\nextendedKeyUsage=serverAuth\n"));
  }
  Issued IssueClient(const std::string& ca, const std::string& name) {
    return Issue(ca, name, "extendedKeyUsage=clientAuth\n");
  }

 private:
  std::string Base(const std::string& name) const { return absl::StrCat(directory_, "/", name); }
  static void Run(const std::string& command) {
    std::string bounded = absl::StrCat("timeout 20 ", command, " 2>&1");
    FILE* pipe = popen(bounded.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::string output;
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, n);
    EXPECT_EQ(pclose(pipe), 0) << command << "\n" << output;
  }

  std::string directory_;
  int serial_ = 100;
};

http::Response JsonReply(int status, const bj::value& body) {
  return http::Response::Json(status, json::Serialize(body));
}

// A Kubernetes Status object as the API server sends with a failure.
http::Response StatusReply(int code, const std::string& reason, const std::string& message,
                           std::vector<std::pair<std::string, std::string>> causes = {}) {
  bj::array cause_list;
  for (const auto& [field, cause_message] : causes) {
    cause_list.push_back(
        bj::object{{"reason", "FieldValueInvalid"}, {"message", cause_message}, {"field", field}});
  }
  bj::object status{{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", bj::object{}},
                    {"status", "Failure"}, {"message", message}, {"reason", reason},
                    {"code", code}};
  if (!cause_list.empty()) status["details"] = bj::object{{"causes", std::move(cause_list)}};
  return JsonReply(code, status);
}

class KubeClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = std::make_unique<TestPki>(dir_.path());
    server_ca_ = pki_->MakeCa("server-ca");
    client_ca_ = pki_->MakeCa("client-ca");
    server_cert_ = pki_->IssueServer("server-ca", "api", "DNS:localhost,IP:127.0.0.1");
    StartServer({.certificate_chain_pem = server_cert_.certificate_pem(),
                 .private_key_pem = server_cert_.key_pem()});
  }

  void TearDown() override {
    if (server_) server_->Stop();
  }

  void StartServer(http::TlsConfig tls) {
    if (server_) server_->Stop();
    auto server = http::Server::Start(
        {.port = 0, .tls = std::move(tls)}, [this](http::Request request, http::Responder reply) {
          http::Response response;
          {
            std::lock_guard lock(mu_);
            seen_.push_back(request);
            if (!replies_.empty()) {
              response = std::move(replies_.front());
              replies_.pop_front();
            } else {
              response =
                  respond_ ? respond_(request) : JsonReply(200, bj::object{{"kind", "Deployment"}});
            }
          }
          std::move(reply)(std::move(response));
        });
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  std::string Url(const std::string& path = "") const {
    return absl::StrCat("https://127.0.0.1:", server_->port(), path);
  }

  KubeContext Context() const {
    KubeContext context{
        .name = "myaks", .namespace_name = "default", .file = "/home/u/.kube/config"};
    context.cluster = {.name = "myaks", .server = Url(), .certificate_authority_pem = server_ca_};
    context.user = {.name = "clusterUser_rg_myaks", .token = "secret-token"};
    return context;
  }

  std::unique_ptr<KubeClient> Client(KubeContext context) {
    KubeClientOptions options;
    options.sleep = [this](absl::Duration d) { sleeps_.push_back(d); };
    auto client = KubeClient::Create(std::move(context), std::move(options));
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  // Answers the next requests with these responses, in order; later ones get respond_ or a 200.
  void Queue(std::vector<http::Response> responses) {
    std::lock_guard lock(mu_);
    for (auto& r : responses) replies_.push_back(std::move(r));
  }
  std::vector<http::Request> Seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }
  std::vector<std::string> RequestLines() {
    std::vector<std::string> lines;
    for (const auto& request : Seen())
      lines.push_back(absl::StrCat(request.method, " ", request.target));
    return lines;
  }
  static std::string Header(const http::Request& request, absl::string_view name) {
    return std::string(request.headers.Get(name).value_or("<none>"));
  }

  testing::TempHome dir_;
  std::unique_ptr<TestPki> pki_;
  std::string server_ca_;
  std::string client_ca_;
  TestPki::Issued server_cert_;
  std::unique_ptr<http::Server> server_;
  std::vector<absl::Duration> sleeps_;
  std::mutex mu_;
  std::vector<http::Request> seen_;
  std::deque<http::Response> replies_;
  std::function<http::Response(const http::Request&)> respond_;
};

const bj::object kDeployment = {
    {"apiVersion", "apps/v1"},
    {"kind", "Deployment"},
    {"metadata", {{"name", "web"}, {"namespace", "ml"}, {"labels", {{"app", "web"}}}}},
    {"spec", {{"replicas", 2}}}};

TEST_F(KubeClientTest, GetSendsTheRequestLineAndBearerToken) {
  Queue({JsonReply(200, bj::object{{"kind", "Deployment"}, {"metadata", {{"name", "web"}}}})});
  auto client = Client(Context());
  auto deployment = client->Get("Deployment", "ml", "web");
  ASSERT_TRUE(deployment.ok()) << deployment.status();
  EXPECT_EQ(json::GetString(*json::GetObject(*deployment, "metadata"), "name"), "web");
  auto seen = Seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(seen[0].target, "/apis/apps/v1/namespaces/ml/deployments/web");
  EXPECT_TRUE(seen[0].tls);
  EXPECT_EQ(Header(seen[0], "Authorization"), "Bearer secret-token");
  EXPECT_EQ(Header(seen[0], "Accept"), "application/json");
  EXPECT_THAT(Header(seen[0], "User-Agent"), StartsWith("amlcore/"));

  // Core kinds live under /api/v1; cluster-scoped ones have no namespace; an empty namespace is the
  // context's.
  ASSERT_TRUE(client->Get("Pod", "", "web-0").ok());
  ASSERT_TRUE(client->Get("Namespace", "ignored", "ml").ok());
  EXPECT_THAT(RequestLines(), ElementsAre("GET /apis/apps/v1/namespaces/ml/deployments/web",
                                          "GET /api/v1/namespaces/default/pods/web-0",
                                          "GET /api/v1/namespaces/ml"));
}

TEST_F(KubeClientTest, ListSendsSelectorsEncoded) {
  Queue({JsonReply(200, bj::object{{"kind", "PodList"}, {"items", bj::array{}}})});
  auto client = Client(Context());
  auto pods = client->List(
      "Pod", "ml",
      {.label_selector = "app=web,version!=v1", .field_selector = "status.phase=Running"});
  ASSERT_TRUE(pods.ok()) << pods.status();
  EXPECT_EQ(json::GetString(*pods, "kind"), "PodList");
  ASSERT_TRUE(client->List("Event", "", {.all_namespaces = true}).ok());
  ASSERT_TRUE(client->List("ReplicaSet", "", {}).ok());
  EXPECT_THAT(
      RequestLines(),
      ElementsAre("GET /api/v1/namespaces/ml/pods?labelSelector=app%3Dweb%2Cversion%21%3Dv1&"
                  "fieldSelector=status.phase%3DRunning",
                  "GET /api/v1/events", "GET /apis/apps/v1/namespaces/default/replicasets"));
}

TEST_F(KubeClientTest, ApplyIsAServerSidePatchWithTheFieldManager) {
  auto client = Client(Context());
  ASSERT_TRUE(client->Apply(kDeployment, {.force = true}).ok());
  ASSERT_TRUE(client
                  ->Apply(bj::object{
                      {"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "ml"}}}})
                  .ok());
  auto seen = Seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(absl::StrCat(seen[0].method, " ", seen[0].target),
            "PATCH /apis/apps/v1/namespaces/ml/deployments/web?fieldManager=amlcore&force=true");
  EXPECT_EQ(Header(seen[0], "Content-Type"), "application/apply-patch+yaml");
  EXPECT_EQ(json::Parse(seen[0].body).value(), bj::value(kDeployment));
  EXPECT_EQ(absl::StrCat(seen[1].method, " ", seen[1].target),
            "PATCH /api/v1/namespaces/ml?fieldManager=amlcore");
}

TEST_F(KubeClientTest, ApplyRefusesManifestsItCannotPlace) {
  auto client = Client(Context());
  bj::object wrong_version = kDeployment;
  wrong_version["apiVersion"] = "extensions/v1beta1";
  EXPECT_EQ(client->Apply(wrong_version).status().message(),
            "Kubernetes apply: a Deployment manifest must have apiVersion apps/v1, not "
            "\"extensions/v1beta1\"");
  EXPECT_THAT(
      std::string(
          client->Apply(bj::object{{"apiVersion", "v1"}, {"kind", "Widget"}}).status().message()),
      StartsWith("Kubernetes apply: Kubernetes kind \"Widget\" is not one amlcore uses; it knows "
                 "Namespace, "));
  EXPECT_EQ(client->Apply(bj::object{{"apiVersion", "v1"}, {"kind", "Secret"}}).status().message(),
            "Kubernetes apply: the Secret manifest has no metadata.name");
  EXPECT_TRUE(Seen().empty());
}

TEST_F(KubeClientTest, CreatePostsAndDeleteSendsPropagationPolicy) {
  auto client = Client(Context());
  bj::object secret{{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", {{"name", "keys"}}}};
  ASSERT_TRUE(client->Create(secret).ok());
  ASSERT_TRUE(client->Delete("Deployment", "ml", "web", {.propagation_policy = "Foreground"}).ok());
  auto seen = Seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(absl::StrCat(seen[0].method, " ", seen[0].target),
            "POST /api/v1/namespaces/default/secrets?fieldManager=amlcore");
  EXPECT_EQ(Header(seen[0], "Content-Type"), "application/json");
  EXPECT_EQ(json::Parse(seen[0].body).value(), bj::value(secret));
  EXPECT_EQ(absl::StrCat(seen[1].method, " ", seen[1].target),
            "DELETE /apis/apps/v1/namespaces/ml/deployments/web");
  EXPECT_EQ(json::Parse(seen[1].body).value(),
            json::Parse(R"({"propagationPolicy":"Foreground"})").value());

  Queue({StatusReply(404, "NotFound", "deployments.apps \"web\" not found"),
         StatusReply(404, "NotFound", "deployments.apps \"web\" not found")});
  EXPECT_TRUE(client->Delete("Deployment", "ml", "web", {.ignore_not_found = true}).ok());
  EXPECT_EQ(client->Delete("Deployment", "ml", "web").code(), absl::StatusCode::kNotFound);
}

TEST_F(KubeClientTest, GetLogsAsksForTheContainerTailAndPreviousRun) {
  Queue({http::Response::Text(200, "line 1\nTraceback: init() failed\n")});
  auto client = Client(Context());
  auto logs = client->GetLogs("ml", "web-7d9f-abcde",
                              {.container = "score", .tail_lines = 50, .previous = true});
  ASSERT_TRUE(logs.ok()) << logs.status();
  EXPECT_EQ(*logs, "line 1\nTraceback: init() failed\n");
  EXPECT_THAT(RequestLines(), ElementsAre("GET "
                                          "/api/v1/namespaces/ml/pods/web-7d9f-abcde/"
                                          "log?container=score&tailLines=50&previous=true"));
}

TEST_F(KubeClientTest, ServerVersionReadsVersion) {
  Queue({JsonReply(200, bj::object{{"major", "1"},
                                   {"minor", "29"},
                                   {"gitVersion", "v1.29.4"},
                                   {"platform", "linux/amd64"}})});
  auto client = Client(Context());
  auto version = client->ServerVersion();
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(version->major, "1");
  EXPECT_EQ(version->minor, "29");
  EXPECT_EQ(version->git_version, "v1.29.4");
  EXPECT_EQ(version->platform, "linux/amd64");
  EXPECT_THAT(RequestLines(), ElementsAre("GET /version"));
}

TEST_F(KubeClientTest, CanIPostsASelfSubjectAccessReview) {
  respond_ = [](const http::Request& request) {
    auto review = json::Parse(request.body).value().as_object();
    const bj::object& attributes =
        *json::GetObject(*json::GetObject(review, "spec"), "resourceAttributes");
    bool allowed = json::GetString(attributes, "verb") == "create";
    review["status"] = bj::object{{"allowed", allowed}};
    return JsonReply(201, review);
  };
  auto client = Client(Context());
  auto can_create = client->CanI("create", "apps", "deployments", "ml");
  ASSERT_TRUE(can_create.ok()) << can_create.status();
  EXPECT_TRUE(*can_create);
  auto can_delete = client->CanI("delete", "", "namespaces", "");
  ASSERT_TRUE(can_delete.ok()) << can_delete.status();
  EXPECT_FALSE(*can_delete);
  auto seen = Seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(absl::StrCat(seen[0].method, " ", seen[0].target),
            "POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews?fieldManager=amlcore");
  EXPECT_EQ(json::Parse(seen[0].body).value(),
            json::Parse(R"({"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview",
                "spec":{"resourceAttributes":{"verb":"create","group":"apps","resource":"deployments",
                "namespace":"ml"}}})")
                .value());
}

TEST_F(KubeClientTest, ServerUrlPathIsAPrefixOfEveryRequest) {
  KubeContext context = Context();
  context.cluster.server = Url("/k8s/clusters/c-m-1234/");
  auto client = Client(context);
  ASSERT_TRUE(client->Get("Service", "ml", "web").ok());
  EXPECT_THAT(RequestLines(),
              ElementsAre("GET /k8s/clusters/c-m-1234/api/v1/namespaces/ml/services/web"));
}

TEST_F(KubeClientTest, BasicAuthAndTokenFilesAreSent) {
  KubeContext basic = Context();
  basic.user = {.name = "admin", .username = "admin", .password = "p@ss:word"};
  ASSERT_TRUE(Client(basic)->Get("Pod", "ml", "a").ok());

  std::string token_file = dir_.path() + "/token";
  std::ofstream(token_file) << "first-token\n";
  KubeContext from_file = Context();
  from_file.user = {.name = "sa", .token_file = token_file};
  auto client = Client(from_file);
  ASSERT_TRUE(client->Get("Pod", "ml", "a").ok());
  std::ofstream(token_file) << "rotated-token\n";  // read again for each request
  ASSERT_TRUE(client->Get("Pod", "ml", "a").ok());

  KubeContext anonymous = Context();
  anonymous.user = {};
  ASSERT_TRUE(Client(anonymous)->Get("Pod", "ml", "a").ok());

  auto seen = Seen();
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(Header(seen[0], "Authorization"), "Basic YWRtaW46cEBzczp3b3Jk");  // admin:p@ss:word
  EXPECT_EQ(Header(seen[1], "Authorization"), "Bearer first-token");
  EXPECT_EQ(Header(seen[2], "Authorization"), "Bearer rotated-token");
  EXPECT_EQ(Header(seen[3], "Authorization"), "<none>");
}

TEST_F(KubeClientTest, ClientCertificateFromKubeconfigFilesSatisfiesAServerThatRequiresOne) {
  StartServer({.certificate_chain_pem = server_cert_.certificate_pem(),
               .private_key_pem = server_cert_.key_pem(),
               .client_ca_pem = client_ca_});
  TestPki::Issued alice = pki_->IssueClient("client-ca", "alice");
  std::string kubeconfig = dir_.path() + "/kube/config";
  std::filesystem::create_directories(dir_.path() + "/kube");
  std::ofstream(dir_.path() + "/kube/ca.pem") << server_ca_;
  std::ofstream(kubeconfig) << absl::StrCat(R"(apiVersion: v1
kind: Config
current-context: mtls
clusters:
- name: mtls
  cluster:
    server: )",
                                            Url(), R"(
    certificate-authority: ca.pem
contexts:
- name: mtls
  context: {cluster: mtls, user: alice, namespace: ml}
users:
- name: alice
  user:
    client-certificate: )",
                                            alice.certificate_file, R"(
    client-key: )",
                                            alice.key_file, "\n");
  auto context = LoadKubeContext({.path = kubeconfig});
  ASSERT_TRUE(context.ok()) << context.status();
  auto client = Client(*context);
  auto pod = client->Get("Pod", "", "web-0");
  ASSERT_TRUE(pod.ok()) << pod.status();
  EXPECT_THAT(RequestLines(), ElementsAre("GET /api/v1/namespaces/ml/pods/web-0"));
  EXPECT_EQ(Header(Seen()[0], "Authorization"), "<none>");

  // Without a certificate the server ends the handshake; no request reaches it.
  KubeContext no_certificate = *context;
  no_certificate.user = {};
  auto refused = Client(no_certificate)->Get("Pod", "", "web-0");
  EXPECT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()),
              StartsWith(absl::StrCat("Kubernetes API server ", Url(),
                                      " could not be reached to get pods \"web-0\" in "
                                      "namespace \"ml\"")));
  EXPECT_EQ(Seen().size(), 1u);
}

TEST_F(KubeClientTest, InsecureSkipTlsVerifyAcceptsAnUntrustedServer) {
  KubeContext untrusted = Context();
  untrusted.cluster.certificate_authority_pem =
      "";  // only the system's CAs, which never issued this one
  auto refused = Client(untrusted)->Get("Pod", "ml", "a");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("certificate verify failed"));
  EXPECT_TRUE(sleeps_.empty());  // distrust is not retried

  KubeContext insecure = untrusted;
  insecure.cluster.insecure_skip_tls_verify = true;
  auto accepted = Client(insecure)->Get("Pod", "ml", "a");
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_EQ(Seen().size(), 1u);
}

TEST_F(KubeClientTest, TlsServerNameIsWhatTheCertificateIsCheckedAgainst) {
  TestPki::Issued named = pki_->IssueServer("server-ca", "named", "DNS:kube.internal");
  StartServer(
      {.certificate_chain_pem = named.certificate_pem(), .private_key_pem = named.key_pem()});
  auto mismatch = Client(Context())->Get("Pod", "ml", "a");
  EXPECT_EQ(mismatch.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(mismatch.status().message(), HasSubstr("the certificate is not for '127.0.0.1'"));

  KubeContext with_name = Context();
  with_name.cluster.tls_server_name = "kube.internal";
  auto matched = Client(with_name)->Get("Pod", "ml", "a");
  ASSERT_TRUE(matched.ok()) << matched.status();
}

TEST_F(KubeClientTest, ForbiddenNamesTheVerbAndResource) {
  std::string server_message =
      "deployments.apps is forbidden: User \"alice\" cannot create resource \"deployments\" in API "
      "group \"apps\" "
      "in the namespace \"ml\"";
  Queue({StatusReply(403, "Forbidden", server_message)});
  auto applied = Client(Context())->Create(kDeployment);
  EXPECT_EQ(applied.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(
      applied.status().message(),
      absl::StrCat(
          "Kubernetes refused to create deployments.apps \"web\" in namespace \"ml\": ",
          server_message,
          "; ask the cluster's administrator for this permission (a Role and RoleBinding) or use a "
          "kubeconfig context that has it"));
  EXPECT_EQ(ErrorCodeOf(applied.status()), "Forbidden");
  EXPECT_EQ(HttpStatusOf(applied.status()), 403);
  EXPECT_EQ(Seen().size(), 1u);
}

TEST_F(KubeClientTest, NotFoundConflictAndAlreadyExistsMapToTheirCodes) {
  auto client = Client(Context());
  Queue({StatusReply(404, "NotFound", "namespaces \"ml\" not found")});
  auto missing = client->Get("Pod", "ml", "a");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(),
            "Kubernetes could not get pods \"a\" in namespace \"ml\": namespaces \"ml\" not found");

  Queue({StatusReply(409, "AlreadyExists", "secrets \"keys\" already exists")});
  auto exists = client->Create(
      bj::object{{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", {{"name", "keys"}}}});
  EXPECT_EQ(exists.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(exists.status().message(),
            "Kubernetes could not create secrets \"keys\" in namespace \"default\": it already "
            "exists (secrets \"keys\" "
            "already exists)");

  Queue({StatusReply(409, "Conflict",
                     "Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas",
                     {{".spec.replicas", "conflict with \"kubectl\""}})});
  auto conflict = client->Apply(kDeployment);
  EXPECT_EQ(conflict.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(conflict.status().message(),
            "Kubernetes could not patch deployments.apps \"web\" in namespace \"ml\" because of a "
            "conflict: Apply "
            "failed with 1 conflict: conflict with \"kubectl\": .spec.replicas (.spec.replicas: "
            "conflict with "
            "\"kubectl\"); read the object again, or apply with force to take the fields over");
}

TEST_F(KubeClientTest, InvalidListsEveryCause) {
  Queue({StatusReply(422, "Invalid", "Deployment.apps \"web\" is invalid: [...]",
                     {{"spec.replicas", "Invalid value: -1: must be greater than or equal to 0"},
                      {"metadata.labels",
                       "Invalid value: \"-x\": a valid label must start with an alphanumeric"}})});
  auto applied = Client(Context())->Apply(kDeployment);
  EXPECT_EQ(applied.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(applied.status().message(),
            "Kubernetes rejected deployments.apps \"web\" in namespace \"ml\" as invalid: "
            "spec.replicas: Invalid value: "
            "-1: must be greater than or equal to 0; metadata.labels: Invalid value: \"-x\": a "
            "valid label must start "
            "with an alphanumeric");
  EXPECT_EQ(ErrorCodeOf(applied.status()), "Invalid");
}

TEST_F(KubeClientTest, UnauthorizedSaysToRefreshCredentials) {
  Queue({StatusReply(401, "Unauthorized", "Unauthorized")});
  auto got = Client(Context())->Get("Pod", "ml", "a");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(got.status().message(),
            "Kubernetes did not accept the credentials of user \"clusterUser_rg_myaks\" of "
            "kubeconfig context \"myaks\" "
            "(/home/u/.kube/config) to get pods \"a\" in namespace \"ml\": Unauthorized; refresh "
            "them (for AKS: az aks "
            "get-credentials, and az login when the kubeconfig uses kubelogin) and try again");
  EXPECT_EQ(Seen().size(), 1u);
}

TEST_F(KubeClientTest, ThrottlingAndServerErrorsAreRetriedHonouringRetryAfter) {
  http::Response throttled = StatusReply(429, "TooManyRequests", "too many requests");
  throttled.headers.Set("Retry-After", "3");
  Queue({throttled, StatusReply(503, "ServiceUnavailable", "etcd leader changed"),
         StatusReply(500, "InternalError", "oops"), JsonReply(200, bj::object{{"kind", "Pod"}})});
  auto got = Client(Context())->Get("Pod", "ml", "a");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(Seen().size(), 4u);
  // The server's 3 s beats the first back-off (250 ms); then 500 ms and 1 s.
  EXPECT_THAT(sleeps_, ElementsAre(absl::Seconds(3), absl::Milliseconds(500), absl::Seconds(1)));
}

TEST_F(KubeClientTest, RetriesStopAfterTheAttemptsAllowed) {
  respond_ = [](const http::Request&) {
    return StatusReply(503, "ServiceUnavailable", "apiserver is shutting down");
  };
  auto got = Client(Context())->Get("Pod", "ml", "a");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(got.status().message(),
            "Kubernetes API server failed to get pods \"a\" in namespace \"ml\" (HTTP 503): "
            "apiserver is shutting down "
            "(gave up after 5 attempts)");
  EXPECT_EQ(Seen().size(), 5u);
  EXPECT_THAT(sleeps_, ElementsAre(absl::Milliseconds(250), absl::Milliseconds(500),
                                   absl::Seconds(1), absl::Seconds(2)));
}

TEST_F(KubeClientTest, RetryAfterBeyondTheTimeAllowedIsNotAwaited) {
  http::Response throttled = StatusReply(429, "TooManyRequests", "slow down");
  throttled.headers.Set("Retry-After", "120");
  Queue({throttled});
  auto got = Client(Context())->Get("Pod", "ml", "a");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(got.status().message(), HasSubstr("(gave up after 1 attempt: the server asked to "
                                                "wait 120 s, which would pass the 60 s allowed)"));
  EXPECT_TRUE(sleeps_.empty());
}

TEST_F(KubeClientTest, TotalRetryTimeIsMeasuredOnTheInjectedClock) {
  absl::Time now = absl::FromCivil(absl::CivilSecond(2026, 10, 21, 7, 28, 0), absl::UTCTimeZone());
  KubeClientOptions options;
  options.now = [&] { return now; };
  options.sleep = [&](absl::Duration d) {
    sleeps_.push_back(d);
    now += d;
  };
  options.retry.max_attempts = 10;
  http::Response by_date = StatusReply(503, "ServiceUnavailable", "restarting");
  by_date.headers.Set("Retry-After", "Wed, 21 Oct 2026 07:28:30 GMT");  // 30 s from now
  http::Response by_seconds = StatusReply(503, "ServiceUnavailable", "restarting");
  by_seconds.headers.Set("Retry-After", "25");
  Queue({by_date, by_seconds, by_seconds});
  auto client = KubeClient::Create(Context(), std::move(options));
  ASSERT_TRUE(client.ok()) << client.status();
  auto got = (*client)->Get("Pod", "ml", "a");
  // 30 s + 25 s have passed; another 25 s would go beyond the 60 s allowed.
  EXPECT_THAT(sleeps_, ElementsAre(absl::Seconds(30), absl::Seconds(25)));
  EXPECT_EQ(Seen().size(), 3u);
  EXPECT_THAT(got.status().message(), HasSubstr("(gave up after 3 attempts: the server asked to "
                                                "wait 25 s, which would pass the 60 s allowed)"));
}

TEST_F(KubeClientTest, UnusableTlsMaterialIsReportedWhenTheClientIsMade) {
  KubeContext bad_ca = Context();
  bad_ca.cluster.certificate_authority_pem = "not a certificate";
  auto refused = KubeClient::Create(bad_ca);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      std::string(refused.status().message()),
      StartsWith("kubeconfig /home/u/.kube/config: context \"myaks\" (cluster \"myaks\", user "
                 "\"clusterUser_rg_myaks\") has TLS material that cannot be used: "));
  EXPECT_THAT(refused.status().message(),
              HasSubstr("the CA certificates given in memory are not PEM"));

  TestPki::Issued alice = pki_->IssueClient("client-ca", "alice");
  TestPki::Issued bob = pki_->IssueClient("client-ca", "bob");
  KubeContext mismatched = Context();
  mismatched.user = {.name = "alice",
                     .client_certificate_pem = alice.certificate_pem(),
                     .client_key_pem = bob.key_pem()};
  EXPECT_THAT(std::string(KubeClient::Create(mismatched).status().message()),
              HasSubstr("the client key does not match the client certificate"));
}

TEST_F(KubeClientTest, ClientErrorsAreNotRetried) {
  Queue({StatusReply(400, "BadRequest", "the body is not JSON")});
  auto got = Client(Context())->Get("Pod", "ml", "a");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Seen().size(), 1u);
  EXPECT_TRUE(sleeps_.empty());
}

TEST_F(KubeClientTest, RefusedConnectionsAreRetriedThenReported) {
  KubeContext context = Context();
  uint16_t port = server_->port();
  server_->Stop();
  server_.reset();
  context.cluster.server = absl::StrCat("https://127.0.0.1:", port);
  auto got = Client(context)->Get("Pod", "ml", "a");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(got.status().message()),
              StartsWith(absl::StrCat(
                  "Kubernetes API server https://127.0.0.1:", port,
                  " could not be reached to get pods \"a\" in namespace \"ml\": Cannot connect")));
  EXPECT_THAT(got.status().message(), HasSubstr("(gave up after 5 attempts)"));
  EXPECT_EQ(sleeps_.size(), 4u);
}

// An exec plugin that hands out token-1, token-2, ... one per run.
std::string CountingTokenPlugin(const std::string& directory) {
  std::string path = directory + "/counting-plugin";
  std::ofstream(path) << absl::StrCat(
      "#!/bin/sh\ncd ", directory,
      "\nn=$(cat count 2>/dev/null || echo 0)\nn=$((n+1))\necho $n > count\n"
      "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
      "\"status\":{\"token\":\"token-%s\"}}' $n\n");
  chmod(path.c_str(), 0755);
  return path;
}

TEST_F(KubeClientTest, ExecCredentialIsRefreshedOnceAfterA401) {
  respond_ = [](const http::Request& request) {
    if (request.headers.Get("Authorization") == "Bearer token-2")
      return JsonReply(200, bj::object{{"kind", "Pod"}});
    return StatusReply(401, "Unauthorized", "Unauthorized");
  };
  KubeContext context = Context();
  context.user = {.name = "aad",
                  .exec = ExecPluginConfig{.api_version = "client.authentication.k8s.io/v1",
                                           .command = CountingTokenPlugin(dir_.path()),
                                           .interactive_mode = "Never"}};
  auto client = Client(context);
  auto got = client->Get("Pod", "ml", "a");
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(client->Get("Pod", "ml", "b").ok());  // the fresh token is cached
  auto seen = Seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(Header(seen[0], "Authorization"), "Bearer token-1");
  EXPECT_EQ(Header(seen[1], "Authorization"), "Bearer token-2");
  EXPECT_EQ(Header(seen[2], "Authorization"), "Bearer token-2");

  // A credential refused even when fresh is reported, not refreshed again and again.
  respond_ = [](const http::Request&) { return StatusReply(401, "Unauthorized", "Unauthorized"); };
  auto refused = client->Get("Pod", "ml", "c");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Seen().size(), 5u);
  EXPECT_EQ(ReadText(dir_.path() + "/count"), "3\n");
}

TEST_F(KubeClientTest, ExecPluginClientCertificateIsPresented) {
  StartServer({.certificate_chain_pem = server_cert_.certificate_pem(),
               .private_key_pem = server_cert_.key_pem(),
               .client_ca_pem = client_ca_});
  TestPki::Issued issued = pki_->IssueClient("client-ca", "exec-user");
  bj::object credential{
      {"apiVersion", "client.authentication.k8s.io/v1beta1"},
      {"kind", "ExecCredential"},
      {"status",
       {{"clientCertificateData", issued.certificate_pem()}, {"clientKeyData", issued.key_pem()}}}};
  std::ofstream(dir_.path() + "/credential.json") << json::Serialize(credential);
  std::string plugin = dir_.path() + "/cert-plugin";
  std::ofstream(plugin) << "#!/bin/sh\ncat " << dir_.path() << "/credential.json\n";
  chmod(plugin.c_str(), 0755);
  KubeContext context = Context();
  context.user = {.name = "cert",
                  .exec = ExecPluginConfig{.api_version = "client.authentication.k8s.io/v1beta1",
                                           .command = plugin}};
  auto got = Client(context)->Get("Pod", "ml", "a");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(Header(Seen()[0], "Authorization"), "<none>");
}

TEST_F(KubeClientTest, FailingExecPluginFailsTheCallWithItsMessage) {
  std::string plugin = dir_.path() + "/failing";
  std::ofstream(plugin) << "#!/bin/sh\necho 'please run az login' >&2\nexit 1\n";
  chmod(plugin.c_str(), 0755);
  KubeContext context = Context();
  context.user = {.name = "aad",
                  .exec = ExecPluginConfig{.api_version = "client.authentication.k8s.io/v1",
                                           .command = plugin}};
  auto got = Client(context)->Get("Pod", "ml", "a");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(got.status().message()),
              StartsWith("Kubernetes get pods \"a\" in namespace \"ml\": exec credential plugin"));
  EXPECT_THAT(got.status().message(), HasSubstr("failed with exit code 1: please run az login"));
  EXPECT_TRUE(Seen().empty());
}

TEST(KubeKindTest, KnowsWhereEachKindIsServed) {
  auto deployment = FindKubeKind("Deployment");
  ASSERT_TRUE(deployment.ok());
  EXPECT_EQ(deployment->ApiVersion(), "apps/v1");
  EXPECT_EQ(deployment->QualifiedResource(), "deployments.apps");
  auto pod = FindKubeKind("Pod");
  ASSERT_TRUE(pod.ok());
  EXPECT_EQ(pod->ApiVersion(), "v1");
  EXPECT_EQ(pod->QualifiedResource(), "pods");
  auto review = FindKubeKind("SelfSubjectAccessReview");
  ASSERT_TRUE(review.ok());
  EXPECT_FALSE(review->namespaced);
  EXPECT_EQ(FindKubeKind("deployment").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace amlcore::kubernetes
