// The REST paths of a workspace's datastore and dataset services.
#ifndef AMLCORE_CLIENT_DATA_PATHS_H_
#define AMLCORE_CLIENT_DATA_PATHS_H_

#include <string>

#include "amlcore/workspace.h"

namespace amlcore::internal {

// "/datastore/v1.0/subscriptions/.../workspaces/<name>"
std::string DatastorePath(const Workspace& workspace);
// "/dataset/v1.0/subscriptions/.../workspaces/<name>"
std::string DatasetServicePath(const Workspace& workspace);

}  // namespace amlcore::internal

#endif  // AMLCORE_CLIENT_DATA_PATHS_H_
