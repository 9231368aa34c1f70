#include "server/request_checks.h"

#include "absl/strings/str_cat.h"
#include "common/errors.h"

namespace amlcore::server {

absl::Status Invalid(absl::string_view message) {
  return MakeError(absl::StatusCode::kInvalidArgument, "ValidationError", message);
}

absl::Status Conflict(absl::string_view code, absl::string_view message) {
  return MakeError(absl::StatusCode::kAborted, code, message);
}

absl::StatusOr<WorkspaceRecord> RequireWorkspace(Store& store, Tx& tx, const WorkspaceKey& key) {
  auto found = store.FindWorkspace(tx, key.subscription_id, key.resource_group, key.name);
  if (!found.ok()) return found.status();
  if (!found->has_value()) {
    return MakeError(absl::StatusCode::kNotFound, "WorkspaceNotFound",
                     absl::StrCat("Workspace ", key.name, " not found in resource group ", key.resource_group,
                                  " of subscription ", key.subscription_id, "."));
  }
  return std::move(**found);
}

absl::Status RequireNoRunningOperation(Store& store, Tx& tx, absl::string_view kind, int64_t resource_id,
                                       absl::string_view noun, absl::string_view name, absl::string_view purpose) {
  auto running = store.RunningOperationOn(tx, kind, resource_id);
  if (!running.ok()) return running.status();
  if (!running->has_value()) return absl::OkStatus();
  return Conflict("OperationInProgress", absl::StrCat(noun, " ", name, " has a running ", (*running)->type,
                                                      " operation (", (*running)->id, "); wait for it to finish",
                                                      purpose, "."));
}

bool MatchesFilters(const std::map<std::string, std::string>& values, const std::vector<std::string>& filters) {
  for (const auto& f : filters) {
    size_t eq = f.find('=');
    auto it = values.find(f.substr(0, eq));
    if (it == values.end()) return false;
    if (eq != std::string::npos && it->second != f.substr(eq + 1)) return false;
  }
  return true;
}

}  // namespace amlcore::server
