// Checks every service applies to a request before it changes anything, with the errors they produce.
#ifndef AMLCORE_SERVER_REQUEST_CHECKS_H_
#define AMLCORE_SERVER_REQUEST_CHECKS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/store.h"

namespace amlcore::server {

struct WorkspaceKey {
  std::string subscription_id;
  std::string resource_group;
  std::string name;
};

// kInvalidArgument with the error code "ValidationError".
absl::Status Invalid(absl::string_view message);
// kAborted (HTTP 409) with the given error code.
absl::Status Conflict(absl::string_view code, absl::string_view message);

// Looks up a workspace; kNotFound ("WorkspaceNotFound") naming it otherwise.
absl::StatusOr<WorkspaceRecord> RequireWorkspace(Store& store, Tx& tx, const WorkspaceKey& key);

// A 409 "OperationInProgress" when an operation is running on the resource (kind and id), worded as
// "<noun> <name> has a running <type> operation (<id>); wait for it to finish<purpose>."
absl::Status RequireNoRunningOperation(Store& store, Tx& tx, absl::string_view kind, int64_t resource_id,
                                       absl::string_view noun, absl::string_view name, absl::string_view purpose = "");

// Tag and property filters of list calls: "key" matches when the key is present, "key=value" when it has
// that value; every filter must match.
bool MatchesFilters(const std::map<std::string, std::string>& values, const std::vector<std::string>& filters);

}  // namespace amlcore::server

#endif  // AMLCORE_SERVER_REQUEST_CHECKS_H_
