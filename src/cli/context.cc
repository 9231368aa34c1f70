#include "cli/context.h"

#include <csignal>
#include <iostream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace amlcore::cli {
namespace {
volatile std::sig_atomic_t interrupted = 0;
void OnInterrupt(int) { interrupted = 1; }
}  // namespace

absl::StatusOr<Workspace> Context::GetWorkspace() {
  if (workspace_) return *workspace_;
  const WorkspaceFlags& f = workspace_flags;
  absl::StatusOr<Workspace> ws = absl::UnknownError("unset");
  if (!f.workspace_name.empty()) {
    ws = Workspace::Get(f.workspace_name,
                        {.subscription_id = f.subscription_id, .resource_group = f.resource_group});
  } else {
    auto file = Workspace::FindConfigFile(f.path);
    if (!file.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("No workspace given: pass -w/--workspace-name (and -g/--resource-group when "
                       "the name is not unique), or "
                       "run 'amlcore ml folder attach -w <workspace>' in this folder to write "
                       ".azureml/config.json (",
                       file.status().message(), ")"));
    }
    ws = Workspace::FromConfig(*file);
  }
  if (ws.ok()) workspace_ = *ws;
  return ws;
}

PollOptions Context::Poll() const {
  // Ctrl-C ends the wait (the operation goes on, as with az's --no-wait) instead of killing us
  // mid-write.
  std::signal(SIGINT, OnInterrupt);
  PollOptions options;
  options.on_progress = [](absl::string_view text) { std::cerr << text << std::flush; };
  options.cancelled = [] { return interrupted != 0; };
  return options;
}

void Context::Progress(absl::string_view text) const { std::cerr << text << std::endl; }

}  // namespace amlcore::cli
