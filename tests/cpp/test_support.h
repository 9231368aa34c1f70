// Shared fixtures: a temporary AMLCORE_HOME, an in-process workspace server on port 0, and cleanup that stops
// every process the test started (server, front ends).
#ifndef AMLCORE_TESTS_CPP_TEST_SUPPORT_H_
#define AMLCORE_TESTS_CPP_TEST_SUPPORT_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "amlcore/amlcore.h"
#include "common/files.h"
#include "common/http_client.h"
#include "common/process.h"
#include "gtest/gtest.h"
#include "server/workspace_server.h"

namespace amlcore::testing {

// A fresh directory, removed with everything started in it.
class TempHome {
 public:
  TempHome();
  ~TempHome();
  const std::string& path() const { return path_; }
  // The front ends and replicas running for this home (as amlcored --processes lists them).
  std::vector<ProcessId> RunningFrontEnds() const;
  std::vector<ProcessId> RunningReplicas() const;
  void KillEverything() const;

 private:
  std::vector<ProcessId> Running(const std::string& kind) const;
  std::string path_;
};

// An in-process amlcored with its SDK connection options.
class ServerFixture : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  ConnectionOptions connection() const;
  Workspace MakeWorkspace(const std::string& name);
  // Raw REST call to the server with the admin token (or `token` when given).
  http::Response Rest(const std::string& method, const std::string& target, const std::string& body = "",
                      std::optional<std::string> token = std::nullopt);

  std::unique_ptr<TempHome> home_;
  std::unique_ptr<server::WorkspaceServer> server_;
};

// Writes a self-signed certificate and its key (PEM) for `cname` into `directory`; returns {cert, key} paths.
std::pair<std::string, std::string> MakeCertificate(const std::string& directory, const std::string& cname);

// GET / at a base URL ("http://127.0.0.1:8123") answers 200.
bool ProbeHealth(const std::string& endpoint);

// Polls `condition` every 10 ms until it holds or `limit` passes.
bool Eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit = std::chrono::seconds(10));

#define AMLCORE_ASSERT_OK(expr)                                 \
  do {                                                          \
    const absl::Status _s = ::amlcore::testing::StatusOf(expr); \
    ASSERT_TRUE(_s.ok()) << _s;                                 \
  } while (0)

inline absl::Status StatusOf(const absl::Status& s) { return s; }
template <class T>
absl::Status StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

}  // namespace amlcore::testing

#endif  // AMLCORE_TESTS_CPP_TEST_SUPPORT_H_
