// HTTPS in http::Server and http::Client: TLS and plain HTTP on one port, keep-alive and session
// resumption, certificates replaced at run time, verification by the client, and what the server
// refuses. Certificates are made in a temporary directory with the openssl command line; everything
// runs on loopback.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/http_client.h"
#include "common/http_server.h"
#include "common/http_types.h"
#include "cpp/test_support.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace amlcore::http {
namespace {
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs a shell command, bounded by `timeout` so that a test can never hang on it.
CommandResult RunCommand(const std::string& command) {
  CommandResult result;
  std::string bounded = absl::StrCat("timeout 20 ", command, " 2>&1");
  FILE* pipe = popen(bounded.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, n);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// Certificate authorities and the server certificates they issue, as files in a temporary
// directory.
class TestPki {
 public:
  struct Issued {
    std::string certificate_file;
    std::string key_file;
    TlsConfig config() const {
      return {.certificate_chain_pem = ReadFile(certificate_file),
              .private_key_pem = ReadFile(key_file)};
    }
  };

  const std::string& directory() const { return home_.path(); }

  // A self-signed CA; returns its certificate file.
  std::string MakeCa(const std::string& name) {
    std::string base = absl::StrCat(directory(), "/", name);
    Expect(absl::StrCat(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 ",
        "-subj '/CN=", name, "' -addext basicConstraints=critical,CA:TRUE ",
        "-addext keyUsage=critical,keyCertSign,cRLSign -keyout ", base, ".key -out ", base,
        ".pem"));
    return base + ".pem";
  }

  // A server certificate for localhost and 127.0.0.1, issued by the CA `ca` made by MakeCa.
  Issued Issue(const std::string& ca, const std::string& name) {
    std::string base = absl::StrCat(directory(), "/", name);
    std::string ca_base = absl::StrCat(directory(), "/", ca);
    std::ofstream(base + ".ext")
        << "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
        << "extendedKeyUsage=serverAuth\n";
    Expect(absl::StrCat("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes ",
                        "-subj /CN=localhost -keyout ", base, ".key -out ", base, ".csr"));
    Expect(absl::StrCat("openssl x509 -req -in ", base, ".csr -CA ", ca_base, ".pem -CAkey ",
                        ca_base, ".key -set_serial ", ++serial_, " -days 2 -extfile ", base,
                        ".ext -out ", base, ".pem"));
    return {.certificate_file = base + ".pem", .key_file = base + ".key"};
  }

 private:
  static void Expect(const std::string& command) {
    auto result = RunCommand(command);
    EXPECT_EQ(result.exit_code, 0) << command << "\n" << result.output;
  }

  testing::TempHome home_;
  int serial_ = 1000;
};

Response Echo(const Request& request) {
  return Response::Text(200, absl::StrCat(request.tls ? "tls " : "plain ", request.path()));
}

// One CA, one server certificate, and a server with it that answers "tls <path>" or "plain <path>".
// A request for /close is refused before its body, which closes its connection.
class HttpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_ = pki_.MakeCa("ca1");
    leaf_ = pki_.Issue("ca1", "leaf1");
    ServerOptions options{.port = 0, .tls = leaf_.config()};
    options.check_head = [this](const Request& head) -> std::optional<Response> {
      {
        std::lock_guard lock(mu_);
        heads_tls_.push_back(head.tls);
      }
      if (head.path() == "/close") return Response::Text(400, "closing");
      return std::nullopt;
    };
    auto server = Server::Start(std::move(options), [](Request request, Responder reply) {
      std::move(reply)(Echo(request));
    });
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  ClientTls TrustCa(const std::string& ca_file) const {
    return {.ca_files = {ca_file}, .system_trust = false};
  }
  uint16_t port() const { return server_->port(); }
  // An s_client command line for this server; its input is empty unless `input` says otherwise.
  std::string OpenSsl(const std::string& arguments, const std::string& input = "</dev/null") const {
    return absl::StrCat("openssl s_client -connect 127.0.0.1:", port(), " -CAfile ", ca_, " ",
                        arguments, " ", input);
  }

  TestPki pki_;
  std::string ca_;
  TestPki::Issued leaf_;
  std::unique_ptr<Server> server_;
  std::mutex mu_;
  std::vector<bool> heads_tls_;
};

TEST_F(HttpsTest, ServesHttpsAndPlainHttpOnOnePort) {
  Client plain("127.0.0.1", port());
  Client by_address("127.0.0.1", port(), TrustCa(ca_));
  Client by_name("127.0.0.1", port(),
                 ClientTls{.server_name = "localhost", .ca_files = {ca_}, .system_trust = false});
  auto plain_reply = plain.Send({.method = "GET", .target = "/a"});
  ASSERT_TRUE(plain_reply.ok()) << plain_reply.status();
  EXPECT_EQ(plain_reply->body, "plain /a");
  auto tls_reply = by_address.Send({.method = "POST", .target = "/b", .body = "x"});
  ASSERT_TRUE(tls_reply.ok()) << tls_reply.status();
  EXPECT_EQ(tls_reply->body, "tls /b");
  auto named_reply = by_name.Send({.method = "GET", .target = "/c"});
  ASSERT_TRUE(named_reply.ok()) << named_reply.status();
  EXPECT_EQ(named_reply->body, "tls /c");
  // Plain again on the same port, after TLS.
  auto plain_again = plain.Send({.method = "GET", .target = "/d"});
  ASSERT_TRUE(plain_again.ok()) << plain_again.status();
  EXPECT_EQ(plain_again->body, "plain /d");
  std::lock_guard lock(mu_);
  EXPECT_EQ(heads_tls_, (std::vector<bool>{false, true, true, false}));  // check_head sees it too
}

TEST_F(HttpsTest, KeepsTlsConnectionsAlive) {
  Client client("localhost", port(), TrustCa(ca_));
  for (int i = 0; i < 5; ++i) {
    auto reply = client.Send({.method = "GET", .target = absl::StrCat("/", i)});
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_EQ(reply->body, absl::StrCat("tls /", i));
  }
  TlsCounters counters = server_->tls_counters();
  EXPECT_EQ(counters.handshakes, 1u);
  EXPECT_EQ(counters.resumed, 0u);
}

TEST_F(HttpsTest, ClientResumesItsSessionWhenReconnecting) {
  Client client("127.0.0.1", port(), TrustCa(ca_));
  for (int round = 0; round < 3; ++round) {
    auto reply = client.Send({.method = "GET", .target = "/x"});
    ASSERT_TRUE(reply.ok()) << reply.status();
    auto refused =
        client.Send({.method = "GET", .target = "/close"});  // the server closes the connection
    ASSERT_TRUE(refused.ok()) << refused.status();
    EXPECT_EQ(refused->status, 400);
  }
  TlsCounters counters = server_->tls_counters();
  EXPECT_EQ(counters.handshakes, 3u);
  EXPECT_EQ(counters.resumed, 2u);  // every connection but the first
}

TEST_F(HttpsTest, OpenSslClientsResumeByTicketAndBySessionId) {
  // -reconnect connects five more times with the first connection's session. (Not with TLS 1.3:
  // s_client reconnects before the server's tickets arrive; http::Client's resumption is tested
  // with TLS 1.3.)
  for (const char* options : {"-tls1_2", "-tls1_2 -no_ticket"}) {
    uint64_t resumed_before = server_->tls_counters().resumed;
    auto result = RunCommand(OpenSsl(absl::StrCat(options, " -reconnect")));
    EXPECT_EQ(result.exit_code, 0) << options << "\n" << result.output;
    EXPECT_THAT(result.output, HasSubstr("Reused, TLSv1.")) << options;
    EXPECT_THAT(result.output, HasSubstr("Verify return code: 0 (ok)")) << options;
    EXPECT_THAT(result.output, HasSubstr("Compression: NONE")) << options;
    // The server counts a handshake when its I/O thread has finished it, which may be just after s_client,
    // whose side ends first, has exited.
    EXPECT_TRUE(testing::Eventually([&] { return server_->tls_counters().resumed >= resumed_before + 5; }))
        << options << ": " << server_->tls_counters().resumed - resumed_before << " resumed\n"
        << result.output;
  }
}

TEST_F(HttpsTest, RefusesTls11AndCiphersWithoutForwardSecrecyOrAead) {
  auto tls12 = RunCommand(OpenSsl("-tls1_2"));
  EXPECT_EQ(tls12.exit_code, 0) << tls12.output;
  EXPECT_THAT(tls12.output, HasSubstr("Protocol  : TLSv1.2"));
  EXPECT_THAT(tls12.output, HasSubstr("Cipher    : ECDHE-ECDSA-"));
  // The client is willing (security level 0 allows TLS 1.1); the server is not.
  auto tls11 = RunCommand(OpenSsl("-tls1_1 -cipher DEFAULT@SECLEVEL=0"));
  EXPECT_NE(tls11.exit_code, 0) << tls11.output;
  EXPECT_THAT(tls11.output, HasSubstr("protocol version"));
  auto cbc = RunCommand(OpenSsl("-tls1_2 -cipher ECDHE-ECDSA-AES128-SHA:AES128-GCM-SHA256"));
  EXPECT_NE(cbc.exit_code, 0) << cbc.output;
  EXPECT_THAT(cbc.output, HasSubstr("handshake failure"));
  // "R" asks s_client to renegotiate; the sleep keeps its input open meanwhile (s_client ends at
  // its end).
  auto renegotiate = RunCommand(absl::StrCat("sh -c 'echo R; sleep 1' | ", OpenSsl("-tls1_2", "")));
  EXPECT_THAT(renegotiate.output, HasSubstr("RENEGOTIATING"));
  EXPECT_THAT(renegotiate.output, HasSubstr("no renegotiation"));
  // Counted once the server's side of the handshake has failed too, which may be after the client gave up.
  EXPECT_TRUE(testing::Eventually([&] { return server_->tls_counters().failed >= 2u; }))
      << server_->tls_counters().failed << " failed handshakes";
}

TEST_F(HttpsTest, SetTlsServesTheNewCertificateToNewConnectionsOnly) {
  std::string ca2 = pki_.MakeCa("ca2");
  TestPki::Issued leaf2 = pki_.Issue("ca2", "leaf2");
  Client open("127.0.0.1", port(), TrustCa(ca_));
  auto first = open.Send({.method = "GET", .target = "/before"});
  ASSERT_TRUE(first.ok()) << first.status();

  AMLCORE_ASSERT_OK(server_->SetTls(leaf2.config()));

  // The open connection keeps its certificate: it was not dropped, and no new handshake was needed
  // (a new one would fail, as this client does not trust ca2).
  for (int i = 0; i < 3; ++i) {
    auto reply = open.Send({.method = "GET", .target = "/after"});
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_EQ(reply->body, "tls /after");
  }
  EXPECT_EQ(server_->tls_counters().handshakes, 1u);
  // New connections get the new certificate.
  Client trusts_old("127.0.0.1", port(), TrustCa(ca_));
  auto refused = trusts_old.Send({.method = "GET", .target = "/"});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("certificate verify failed"));
  Client trusts_new("127.0.0.1", port(), TrustCa(ca2));
  auto accepted = trusts_new.Send({.method = "GET", .target = "/new"});
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_EQ(accepted->body, "tls /new");
  auto presented = RunCommand(absl::StrCat("openssl s_client -connect 127.0.0.1:", port(),
                                           " -CAfile ", ca2, " </dev/null"));
  EXPECT_THAT(presented.output, HasSubstr("i:CN = ca2"));
  EXPECT_THAT(presented.output, HasSubstr("Verify return code: 0 (ok)"));
}

TEST_F(HttpsTest, SetTlsRefusesABadConfigurationAndKeepsTheCurrentOne) {
  std::string ca2 = pki_.MakeCa("ca2");
  TestPki::Issued leaf2 = pki_.Issue("ca2", "leaf2");
  TlsConfig mismatched{.certificate_chain_pem = leaf2.config().certificate_chain_pem,
                       .private_key_pem = leaf_.config().private_key_pem};
  absl::Status status = server_->SetTls(mismatched);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              StartsWith("TLS configuration refused: the private key does not match the "
                         "certificate /CN=localhost"));

  status = server_->SetTls(TlsConfig{.certificate_chain_pem = "not a certificate",
                                     .private_key_pem = leaf2.config().private_key_pem});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("the certificate chain is not a PEM certificate"));

  status = server_->SetTls(TlsConfig{
      .certificate_chain_pem = leaf2.config().certificate_chain_pem,
      .private_key_pem = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("the private key is not an unencrypted PEM private key"));

  // Still the first certificate.
  Client client("127.0.0.1", port(), TrustCa(ca_));
  auto reply = client.Send({.method = "GET", .target = "/still"});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->body, "tls /still");

  // Start checks the same way.
  auto refused = Server::Start({.port = 0, .tls = mismatched}, [](Request, Responder) {});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("does not match the certificate"));
}

TEST_F(HttpsTest, SetTlsTurnsTlsOnAndOff) {
  auto server = Server::Start(
      {.port = 0}, [](Request request, Responder reply) { std::move(reply)(Echo(request)); });
  ASSERT_TRUE(server.ok()) << server.status();
  uint16_t plain_port = (*server)->port();
  Client tls_before("127.0.0.1", plain_port, TrustCa(ca_));
  auto no_tls = tls_before.Send({.method = "GET", .target = "/"}, {.timeout = 5s});
  EXPECT_EQ(ErrorCodeOf(no_tls.status()), kTlsHandshakeFailed) << no_tls.status();

  AMLCORE_ASSERT_OK((*server)->SetTls(leaf_.config()));
  Client tls_on("127.0.0.1", plain_port, TrustCa(ca_));
  auto on = tls_on.Send({.method = "GET", .target = "/on"});
  ASSERT_TRUE(on.ok()) << on.status();
  EXPECT_EQ(on->body, "tls /on");

  AMLCORE_ASSERT_OK((*server)->SetTls(std::nullopt));
  auto still_open = tls_on.Send({.method = "GET", .target = "/open"});  // its connection stays TLS
  ASSERT_TRUE(still_open.ok()) << still_open.status();
  EXPECT_EQ(still_open->body, "tls /open");
  Client tls_off("127.0.0.1", plain_port, TrustCa(ca_));
  auto off = tls_off.Send({.method = "GET", .target = "/"}, {.timeout = 5s});
  EXPECT_EQ(ErrorCodeOf(off.status()), kTlsHandshakeFailed) << off.status();
  EXPECT_THAT(std::string(off.status().message()), HasSubstr("does not seem to speak TLS"));
  Client plain("127.0.0.1", plain_port);
  auto plain_reply = plain.Send({.method = "GET", .target = "/plain"});
  ASSERT_TRUE(plain_reply.ok()) << plain_reply.status();
  EXPECT_EQ(plain_reply->body, "plain /plain");
}

TEST_F(HttpsTest, ClientRefusesAnUntrustedCertificateOrAnotherName) {
  std::string where = absl::StrCat("127.0.0.1:", port());
  Client untrusted("127.0.0.1", port(), ClientTls{});  // the system's CAs did not issue it
  auto reply = untrusted.Send({.method = "GET", .target = "/"});
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kFailedPrecondition) << reply.status();
  EXPECT_EQ(ErrorCodeOf(reply.status()), kTlsHandshakeFailed);
  EXPECT_THAT(std::string(reply.status().message()),
              StartsWith(absl::StrCat(
                  "TLS handshake with ", where,
                  " failed: certificate verify failed: unable to get local issuer certificate")));

  Client wrong_name(
      "127.0.0.1", port(),
      ClientTls{.server_name = "scoring.example.com", .ca_files = {ca_}, .system_trust = false});
  reply = wrong_name.Send({.method = "GET", .target = "/"});
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kFailedPrecondition) << reply.status();
  EXPECT_THAT(std::string(reply.status().message()),
              StartsWith(absl::StrCat("TLS handshake with ", where,
                                      " failed: certificate verify failed: hostname mismatch")));
  EXPECT_THAT(std::string(reply.status().message()), HasSubstr("'scoring.example.com'"));

  // An address is checked against the certificate's IP addresses (it names 127.0.0.1 only).
  Client wrong_address(
      "127.0.0.1", port(),
      ClientTls{.server_name = "127.0.0.2", .ca_files = {ca_}, .system_trust = false});
  reply = wrong_address.Send({.method = "GET", .target = "/"});
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kFailedPrecondition) << reply.status();
  EXPECT_THAT(std::string(reply.status().message()),
              HasSubstr("certificate verify failed: IP address mismatch"));

  Client missing_ca("127.0.0.1", port(), ClientTls{.ca_files = {pki_.directory() + "/absent.pem"}});
  reply = missing_ca.Send({.method = "GET", .target = "/"});
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kInvalidArgument) << reply.status();
  EXPECT_THAT(std::string(reply.status().message()), HasSubstr("cannot load CA file"));
  // Counted once the server's side of the handshake has failed too, which may be after the client gave up.
  EXPECT_TRUE(testing::Eventually([&] { return server_->tls_counters().failed >= 2u; }))
      << server_->tls_counters().failed << " failed handshakes";
}

// A client socket that speaks plain HTTP by hand.
std::string PlainExchange(uint16_t port, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size())) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (out.find("\r\n\r\n") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      char buffer[4096];
      ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
      if (n <= 0) break;
      out.append(buffer, static_cast<size_t>(n));
    }
  }
  close(fd);
  return out;
}

TEST_F(HttpsTest, AtTheConnectionLimitPlainClientsGet503AndTlsClientsAreClosed) {
  auto server =
      Server::Start({.port = 0, .max_connections = 1, .tls = leaf_.config()},
                    [](Request request, Responder reply) { std::move(reply)(Echo(request)); });
  ASSERT_TRUE(server.ok()) << server.status();
  Client holder("127.0.0.1", (*server)->port(), TrustCa(ca_));
  auto held = holder.Send({.method = "GET", .target = "/"});  // keeps the one connection open
  ASSERT_TRUE(held.ok()) << held.status();

  std::string plain = PlainExchange((*server)->port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_THAT(plain, StartsWith("HTTP/1.1 503"));
  Client refused("127.0.0.1", (*server)->port(), TrustCa(ca_));
  auto reply = refused.Send({.method = "GET", .target = "/"}, {.timeout = 5s});
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable) << reply.status();
  EXPECT_EQ(ErrorCodeOf(reply.status()), kTlsHandshakeFailed);
  EXPECT_THAT(std::string(reply.status().message()), HasSubstr("the server closed the connection"));
  EXPECT_EQ((*server)->tls_counters().handshakes, 1u);  // no handshake work for the refused one
  auto still = holder.Send({.method = "GET", .target = "/still"});
  ASSERT_TRUE(still.ok()) << still.status();
}

}  // namespace
}  // namespace amlcore::http
