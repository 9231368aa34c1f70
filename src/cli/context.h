// What every command shares: the global flags, the workspace the command works in (from -w/-g or
// the .azureml/config.json found upward from --path), and where progress goes (stderr; the result
// goes to stdout).
#ifndef AMLCORE_CLI_CONTEXT_H_
#define AMLCORE_CLI_CONTEXT_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "amlcore/operation.h"
#include "amlcore/workspace.h"

namespace amlcore::cli {

struct GlobalFlags {
  std::string output = "json";
  std::string query;
  bool debug = false;
  bool verbose = false;
};

struct WorkspaceFlags {
  std::string workspace_name;
  std::string resource_group;
  std::string subscription_id;
  std::string path;  // where to look for .azureml/config.json (default: the working directory)
};

class Context {
 public:
  GlobalFlags global;
  WorkspaceFlags workspace_flags;

  // The workspace named by -w (with -g and --subscription-id to disambiguate), else the one of the
  // config file found from --path upward; looked up once.
  absl::StatusOr<Workspace> GetWorkspace();
  // Options for waiting on a long-running operation: its progress goes to stderr.
  PollOptions Poll() const;
  // A line of progress on stderr.
  void Progress(absl::string_view text) const;

 private:
  std::optional<Workspace> workspace_;
};

}  // namespace amlcore::cli

#endif  // AMLCORE_CLI_CONTEXT_H_
