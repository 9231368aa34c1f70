// Waiting for long-running operations with long polling: each status request waits on the server until the
// operation changes (or the poll interval ends), so a wait returns as soon as the work is done.
#ifndef AMLCORE_CLIENT_POLLING_H_
#define AMLCORE_CLIENT_POLLING_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "amlcore/operation.h"
#include "client/connection.h"
#include "domain/compute_wire.h"

namespace amlcore::internal {

// The path and query of an absolute URL the server handed out (its host may have changed since).
std::string PathOf(absl::string_view url);

// What one status request says: the state to show, whether it is final, and new log lines to print.
struct PollSnapshot {
  std::string state;
  bool terminal = false;
  int64_t version = 0;
  std::vector<std::string> new_lines;  // printed as "\n<line>"
};

// The long-polling loop: prints the first state, a dot per poll, new log lines, and each new state on its
// own line; returns the final snapshot. `parse` turns a reply body into a snapshot (it may keep state between
// calls to report only new lines).
absl::StatusOr<PollSnapshot> LongPoll(Connection& connection, const std::string& url, const PollOptions& options,
                                      const std::function<absl::StatusOr<PollSnapshot>(const std::string&)>& parse,
                                      const std::function<std::string(const std::string& state)>& timeout_message);

// Waits for an Azure-AsyncOperation to reach Succeeded, Failed or Canceled and returns its last status.
// Progress is reported as azureml prints it: the state, a dot per poll, each new state on its own line.
// kDeadlineExceeded when options.timeout passes first; kCancelled when options.cancelled says so.
absl::StatusOr<domain::AsyncOperationStatus> WaitForAsyncOperation(Connection& connection,
                                                                   const std::string& operation_url,
                                                                   const PollOptions& options);

}  // namespace amlcore::internal

#endif  // AMLCORE_CLIENT_POLLING_H_
