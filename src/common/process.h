// Starting, identifying and stopping the long-lived processes amlcore runs (server, front ends, replicas).
// A process is identified by pid plus its start time, so a recycled pid is never mistaken for ours.
#ifndef AMLCORE_COMMON_PROCESS_H_
#define AMLCORE_COMMON_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace amlcore {

struct ProcessId {
  pid_t pid = 0;
  uint64_t start_time = 0;  // clock ticks after boot, /proc/<pid>/stat field 22
};

// A private view of the file system for a daemon: `hidden` is covered by an empty, read-only tmpfs, and only
// `writable` and `readable` (directories under it; others are visible anyway) appear there again, at the same
// paths. Made in a user and mount namespace of the daemon's own (our uid and gid map to themselves, so files
// keep their owners), then locked by a second user namespace: the daemon cannot unmount any of it, not even
// as root, and cannot reach the hidden files through /proc/<pid>/root of other processes either (the kernel
// refuses that across user namespaces).
struct FilesystemView {
  std::string hidden;
  std::vector<std::string> writable;
  std::vector<std::string> readable;
};

struct SpawnOptions {
  std::string program;
  std::vector<std::string> args;                             // argv[1...]
  std::vector<std::pair<std::string, std::string>> env;      // added to (or replacing) our environment
  std::vector<std::string> unset_env;                        // removed from the inherited environment
  std::string log_path;           // stdout and stderr are appended here; empty means /dev/null
  std::string working_directory;  // empty keeps ours
  // The daemon sees the file system through this view (applied before the log is opened and the working
  // directory entered); the spawn fails if it cannot be made.
  std::optional<FilesystemView> view;
};

// Starts a daemon: a new session whose parent is not this process (double fork), so it outlives us and
// never becomes our zombie. The daemon leads a process group of its own (its pgid is its pid), which the
// processes it starts join unless they leave on purpose: SignalGroup and GroupResidentBytes reach them all.
// Fails with the exec error if the program cannot be started.
absl::StatusOr<ProcessId> SpawnDaemon(const SpawnOptions& options);
// Whether daemons can be given a FilesystemView hiding `hidden` here: user namespaces may be disabled (a
// sysctl) or forbidden (some containers). The error says which step failed and why. Forks a short-lived child.
absl::Status CheckFilesystemView(const std::string& hidden);

std::optional<uint64_t> ProcessStartTime(pid_t pid);
// The base name of the program a process runs, from its argv[0] ("amlcored"); empty when it is gone.
std::string ProgramName(pid_t pid);
// True when the pid exists, is not a zombie, and (if start_time is set) started at that time.
bool IsRunning(const ProcessId& process);
// SIGTERM, then SIGKILL after `grace`; returns once the process is gone (or kDeadlineExceeded). With
// `whole_group`, both go to the process group it leads, and whatever is left of that group once the process
// is gone is killed too, so that nothing it started outlives it.
absl::Status Terminate(const ProcessId& process, std::chrono::milliseconds grace, bool whole_group = false);

// Sends `signal` to every process of group `pgid`; false when the group has no process left (or `pgid` is
// not a group, as for a daemon started by an older amlcore).
bool SignalGroup(pid_t pgid, int signal);
// Resident memory, in bytes, of process `pgid` and every live process of the group it leads.
uint64_t GroupResidentBytes(pid_t pgid);

struct CommandResult {
  int exit_code = -1;  // -1 when killed by a signal or the timeout
  bool timed_out = false;
  std::string output;        // stdout and stderr, interleaved; only stdout with CommandOutput::kSeparate
  std::string error_output;  // stderr, with CommandOutput::kSeparate
};

// Whether a command's stderr joins its stdout (a log to show) or is kept apart (stdout is a document to parse,
// as a credential plugin's JSON, and stderr says what went wrong).
enum class CommandOutput { kInterleaved, kSeparate };

// Runs `argv` to completion (or `timeout`, then kills it), capturing its output. argv[0] is looked up on PATH
// unless it contains a '/'.
absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                                         const std::vector<std::pair<std::string, std::string>>& env = {},
                                         CommandOutput streams = CommandOutput::kInterleaved);

// Directory of the running executable (/proc/self/exe).
std::string SelfExecutableDirectory();
// Directory of the shared object or executable that contains `address`.
std::string DirectoryContaining(const void* address);

}  // namespace amlcore

#endif  // AMLCORE_COMMON_PROCESS_H_
