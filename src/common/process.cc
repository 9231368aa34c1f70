#include "common/process.h"

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

extern char** environ;

namespace amlcore {
namespace {

struct Stat {
  char state = '?';
  pid_t pgrp = 0;
  uint64_t start_time = 0;
  uint64_t resident_pages = 0;
};

// Fields of /proc/<pid>/stat after the command name: state is field 3, pgrp field 5, starttime field 22,
// rss field 24.
std::optional<Stat> ReadStat(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  if (!in) return std::nullopt;
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string stat = buffer.str();
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(stat).substr(close + 2), ' ', absl::SkipEmpty());
  if (fields.size() < 22) return std::nullopt;
  Stat out;
  out.state = fields[0].empty() ? '?' : fields[0][0];
  if (!absl::SimpleAtoi(fields[2], &out.pgrp) || !absl::SimpleAtoi(fields[19], &out.start_time) ||
      !absl::SimpleAtoi(fields[21], &out.resident_pages)) {
    return std::nullopt;
  }
  return out;
}

void WriteMessage(int fd, char tag, int32_t value) {
  char message[5];
  message[0] = tag;
  std::memcpy(message + 1, &value, sizeof(value));
  [[maybe_unused]] ssize_t n = write(fd, message, sizeof(message));
}

// Everything a child needs to enter a FilesystemView, prepared before fork: after it, only async-signal-safe
// calls are made.
struct PreparedView {
  std::string hidden;
  std::string uid_map;  // "<uid> <uid> 1": we stay who we are, to the kernel and to the files
  std::string gid_map;
  struct Bind {
    std::string path;
    std::vector<std::string> mount_points;  // the directories to create under `hidden`, outermost first
    bool read_only = false;
    int fd = -1;
    char source[40] = {};  // "/proc/self/fd/<fd>": the directory, reachable after the tmpfs covers it
  };
  std::vector<Bind> binds;
};

// The step of EnterView that failed, for the error message.
enum ViewStep : int32_t {
  kViewUserNamespace = 1,
  kViewIdMaps,
  kViewPrivateMounts,
  kViewOpen,
  kViewTmpfs,
  kViewMountPoint,
  kViewBind,
  kViewReadOnly,
  kViewSeal,
  kViewLock,
};

// Reads WriteMessage's messages from `fd` until the writers close it, handing each to `on`.
template <class On>
void ReadMessages(int fd, On on) {
  char message[5];
  while (true) {
    ssize_t n = read(fd, message, sizeof(message));
    if (n < 0 && errno == EINTR) continue;
    if (n != static_cast<ssize_t>(sizeof(message))) break;
    int32_t value;
    std::memcpy(&value, message + 1, sizeof(value));
    on(message[0], value);
  }
}

const char* ViewStepName(int32_t step) {
  switch (step) {
    case kViewUserNamespace: return "creating a user and mount namespace";
    case kViewIdMaps: return "mapping the user and group ids";
    case kViewPrivateMounts: return "making mounts private";
    case kViewOpen: return "opening a directory to bind";
    case kViewTmpfs: return "covering the hidden directory";
    case kViewMountPoint: return "creating a mount point";
    case kViewBind: return "binding a directory back";
    case kViewReadOnly: return "making a bound directory read-only";
    case kViewSeal: return "making the cover read-only";
    case kViewLock: return "locking the mounts in a second user namespace";
    default: return "an unknown step";
  }
}

PreparedView PrepareView(const FilesystemView& view) {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto normal = [&](const std::string& path) {
    fs::path p = fs::weakly_canonical(fs::absolute(path, ec), ec).lexically_normal();
    std::string out = p.string();
    while (out.size() > 1 && out.back() == '/') out.pop_back();
    return out;
  };
  PreparedView prepared;
  prepared.hidden = normal(view.hidden);
  prepared.uid_map = absl::StrCat(getuid(), " ", getuid(), " 1");
  prepared.gid_map = absl::StrCat(getgid(), " ", getgid(), " 1");
  std::vector<std::pair<std::string, bool>> wanted;
  for (const auto& path : view.writable) wanted.emplace_back(normal(path), false);
  for (const auto& path : view.readable) wanted.emplace_back(normal(path), true);
  // Parents before children, so that a bind never hides another.
  std::sort(wanted.begin(), wanted.end());
  for (const auto& [path, read_only] : wanted) {
    // Only what the cover hides needs binding back.
    if (!absl::StartsWith(path, prepared.hidden + "/")) continue;
    PreparedView::Bind bind{.path = path, .read_only = read_only};
    std::string at = prepared.hidden;
    for (absl::string_view part : absl::StrSplit(path.substr(prepared.hidden.size() + 1), '/', absl::SkipEmpty())) {
      absl::StrAppend(&at, "/", part);
      bind.mount_points.push_back(at);
    }
    prepared.binds.push_back(std::move(bind));
  }
  return prepared;
}

bool WriteWhole(const char* path, const std::string& content) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
  int saved = errno;
  close(fd);
  errno = saved;
  return ok;
}

// "/proc/self/fd/<fd>" into `out`, without allocating.
void FormatFdPath(int fd, char* out) {
  static constexpr char kPrefix[] = "/proc/self/fd/";
  std::memcpy(out, kPrefix, sizeof(kPrefix) - 1);
  char digits[16];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + fd % 10);
    fd /= 10;
  } while (fd > 0);
  char* at = out + sizeof(kPrefix) - 1;
  while (n > 0) *at++ = digits[--n];
  *at = '\0';
}

int32_t EnterUserNamespace(const PreparedView& view) {
  if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) return kViewUserNamespace;
  if (!WriteWhole("/proc/self/uid_map", view.uid_map) || !WriteWhole("/proc/self/setgroups", "deny") ||
      !WriteWhole("/proc/self/gid_map", view.gid_map)) {
    return kViewIdMaps;
  }
  return 0;
}

// Runs in the child between fork and exec. Returns 0, or the step that failed (errno says why).
int32_t EnterView(PreparedView& view) {
  if (int32_t step = EnterUserNamespace(view)) return step;
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return kViewPrivateMounts;
  // Opened before the cover goes on: afterwards their paths lead into the empty tmpfs.
  for (auto& bind : view.binds) {
    bind.fd = open(bind.path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (bind.fd < 0) return kViewOpen;
    FormatFdPath(bind.fd, bind.source);
  }
  if (mount("tmpfs", view.hidden.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k,nr_inodes=4096") != 0) {
    return kViewTmpfs;
  }
  for (auto& bind : view.binds) {
    for (const auto& point : bind.mount_points) {
      if (mkdir(point.c_str(), 0755) != 0 && errno != EEXIST) return kViewMountPoint;
    }
    if (mount(bind.source, bind.path.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) return kViewBind;
    close(bind.fd);
    if (bind.read_only) {
      // A remount inside a user namespace must keep the flags the original mount has locked.
      struct statfs st;
      if (statfs(bind.path.c_str(), &st) != 0) return kViewReadOnly;
      unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY;
      if (st.f_flags & ST_NOSUID) flags |= MS_NOSUID;
      if (st.f_flags & ST_NODEV) flags |= MS_NODEV;
      if (st.f_flags & ST_NOEXEC) flags |= MS_NOEXEC;
      if (st.f_flags & ST_NOATIME) flags |= MS_NOATIME;
      if (st.f_flags & ST_NODIRATIME) flags |= MS_NODIRATIME;
      if (st.f_flags & ST_RELATIME) flags |= MS_RELATIME;
      if (mount(nullptr, bind.path.c_str(), nullptr, flags, nullptr) != 0) return kViewReadOnly;
    }
  }
  if (mount(nullptr, view.hidden.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
            nullptr) != 0) {
    return kViewSeal;
  }
  // Mounts made in a namespace are the property of its user namespace, whose root could unmount them; seen
  // from a namespace below it they are locked together and cannot be taken apart.
  if (int32_t step = EnterUserNamespace(view)) return step == kViewUserNamespace ? kViewLock : step;
  return 0;
}

absl::Status ViewError(absl::string_view what, int32_t step, int err) {
  return absl::FailedPreconditionError(
      absl::StrCat(what, ": its private file system view failed while ", ViewStepName(step), ": ", std::strerror(err)));
}

}  // namespace

absl::Status CheckFilesystemView(const std::string& hidden) {
  PreparedView prepared = PrepareView(FilesystemView{.hidden = hidden});
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
  pid_t child = fork();
  if (child < 0) {
    int err = errno;
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return absl::ResourceExhaustedError(absl::StrCat("fork: ", std::strerror(err)));
  }
  if (child == 0) {
    if (int32_t step = EnterView(prepared)) {
      int err = errno;
      WriteMessage(pipe_fds[1], 'V', step);
      WriteMessage(pipe_fds[1], 'E', err);
      _exit(1);
    }
    _exit(0);
  }
  close(pipe_fds[1]);
  int32_t step = 0;
  int32_t err = 0;
  ReadMessages(pipe_fds[0], [&](char tag, int32_t value) {
    if (tag == 'V') step = value;
    if (tag == 'E') err = value;
  });
  close(pipe_fds[0]);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (step != 0) return ViewError(absl::StrCat("Hiding ", hidden), step, err);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat("Hiding ", hidden, ": the check's process failed"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ProcessId> SpawnDaemon(const SpawnOptions& options) {
  // Everything the children need is prepared before fork: after it only async-signal-safe calls are made.
  std::vector<std::string> argv_storage;
  argv_storage.push_back(options.program);
  for (const auto& a : options.args) argv_storage.push_back(a);
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) {
    absl::string_view entry(*e);
    absl::string_view name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const auto& [k, v] : options.env) replaced |= (k == name);
    for (const auto& k : options.unset_env) replaced |= (k == name);
    if (!replaced) env_storage.emplace_back(entry);
  }
  for (const auto& [k, v] : options.env) env_storage.push_back(absl::StrCat(k, "=", v));
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  std::optional<PreparedView> view;
  if (options.view) view = PrepareView(*options.view);
  const char* log_path = options.log_path.empty() ? "/dev/null" : options.log_path.c_str();
  const char* cwd = options.working_directory.empty() ? nullptr : options.working_directory.c_str();

  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
  }
  pid_t first = fork();
  if (first < 0) {
    int err = errno;
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return absl::ResourceExhaustedError(absl::StrCat("fork: ", std::strerror(err)));
  }
  if (first == 0) {
    setsid();
    pid_t second = fork();
    if (second < 0) {
      WriteMessage(pipe_fds[1], 'E', errno);
      _exit(1);
    }
    if (second == 0) {
      // A group of its own, so that everything it starts can be counted and stopped with it.
      setpgid(0, 0);
      if (view) {
        if (int32_t step = EnterView(*view)) {
          int err = errno;
          WriteMessage(pipe_fds[1], 'V', step);
          WriteMessage(pipe_fds[1], 'E', err);
          _exit(127);
        }
      }
      int in = open("/dev/null", O_RDONLY);
      int out = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
      if (in < 0 || out < 0) {
        WriteMessage(pipe_fds[1], 'E', errno);
        _exit(127);
      }
      dup2(in, 0);
      dup2(out, 1);
      dup2(out, 2);
      // Nothing else of ours leaks into the daemon; the report pipe closes on exec.
      syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
      signal(SIGPIPE, SIG_DFL);
      if (cwd != nullptr && chdir(cwd) != 0) {
        WriteMessage(pipe_fds[1], 'E', errno);
        _exit(127);
      }
      execve(argv[0], argv.data(), envp.data());
      WriteMessage(pipe_fds[1], 'E', errno);
      _exit(127);
    }
    WriteMessage(pipe_fds[1], 'P', second);
    _exit(0);
  }
  close(pipe_fds[1]);
  int status = 0;
  while (waitpid(first, &status, 0) < 0 && errno == EINTR) {
  }
  pid_t daemon_pid = 0;
  int exec_errno = 0;
  int32_t view_step = 0;
  ReadMessages(pipe_fds[0], [&](char tag, int32_t value) {
    if (tag == 'P') daemon_pid = value;
    if (tag == 'E') exec_errno = value;
    if (tag == 'V') view_step = value;
  });
  close(pipe_fds[0]);
  if (view_step != 0) return ViewError(absl::StrCat("Cannot start ", options.program), view_step, exec_errno);
  if (exec_errno != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("Cannot start ", options.program, ": ", std::strerror(exec_errno)));
  }
  if (daemon_pid <= 0) return absl::InternalError(absl::StrCat("Cannot start ", options.program));
  ProcessId id{daemon_pid, ProcessStartTime(daemon_pid).value_or(0)};
  return id;
}

std::optional<uint64_t> ProcessStartTime(pid_t pid) {
  auto stat = ReadStat(pid);
  if (!stat) return std::nullopt;
  return stat->start_time;
}

std::string ProgramName(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/cmdline"));
  std::string argv0;
  if (!in || !std::getline(in, argv0, '\0')) return "";
  return std::filesystem::path(argv0).filename().string();
}

bool IsRunning(const ProcessId& process) {
  if (process.pid <= 0) return false;
  auto stat = ReadStat(process.pid);
  if (!stat || stat->state == 'Z' || stat->state == 'X') return false;
  return process.start_time == 0 || stat->start_time == process.start_time;
}

bool SignalGroup(pid_t pgid, int signal) { return pgid > 0 && kill(-pgid, signal) == 0; }

uint64_t GroupResidentBytes(pid_t pgid) {
  if (pgid <= 0) return 0;
  static const uint64_t page_size = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  uint64_t pages = 0;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return 0;
  while (dirent* entry = readdir(proc)) {
    pid_t pid = 0;
    if (!absl::SimpleAtoi(entry->d_name, &pid)) continue;
    auto stat = ReadStat(pid);
    if (!stat || stat->state == 'Z' || stat->state == 'X') continue;
    if (pid == pgid || stat->pgrp == pgid) pages += stat->resident_pages;
  }
  closedir(proc);
  return pages * page_size;
}

absl::Status Terminate(const ProcessId& process, std::chrono::milliseconds grace, bool whole_group) {
  if (!IsRunning(process)) return absl::OkStatus();
  // A daemon from an older amlcore leads no group: signal it alone.
  auto signal_it = [&](int signal) {
    if (!whole_group || !SignalGroup(process.pid, signal)) kill(process.pid, signal);
  };
  auto wait_gone = [&](std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      // Reap it if it happens to be our child.
      waitpid(process.pid, nullptr, WNOHANG);
      if (!IsRunning(process)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return !IsRunning(process);
  };
  signal_it(SIGTERM);
  bool gone = wait_gone(grace);
  if (!gone) {
    signal_it(SIGKILL);
    gone = wait_gone(std::chrono::seconds(10));
  }
  // What it started and left behind (children that ignored SIGTERM) goes with it. Its pid cannot have been
  // reused while its group still has members.
  if (whole_group) SignalGroup(process.pid, SIGKILL);
  if (gone) return absl::OkStatus();
  return absl::DeadlineExceededError(absl::StrCat("Process ", process.pid, " did not exit"));
}

absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                                         const std::vector<std::pair<std::string, std::string>>& env,
                                         CommandOutput streams) {
  if (argv.empty()) return absl::InvalidArgumentError("RunCommand: empty command");
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) {
    absl::string_view entry(*e);
    absl::string_view name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const auto& [k, v] : env) replaced |= (k == name);
    if (!replaced) env_storage.emplace_back(entry);
  }
  for (const auto& [k, v] : env) env_storage.push_back(absl::StrCat(k, "=", v));
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argp;
  for (auto& a : args) argp.push_back(a.data());
  argp.push_back(nullptr);

  bool separate = streams == CommandOutput::kSeparate;
  int out_fds[2];
  int err_fds[2] = {-1, -1};
  if (pipe2(out_fds, O_CLOEXEC) != 0) return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
  if (separate && pipe2(err_fds, O_CLOEXEC) != 0) {
    int error = errno;
    close(out_fds[0]);
    close(out_fds[1]);
    return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(error)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, separate ? err_fds[1] : out_fds[1], 2);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, argp[0], &actions, nullptr, argp.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(out_fds[1]);
  if (separate) close(err_fds[1]);
  if (rc != 0) {
    close(out_fds[0]);
    if (separate) close(err_fds[0]);
    return absl::FailedPreconditionError(absl::StrCat("Cannot run ", argv[0], ": ", std::strerror(rc)));
  }
  CommandResult result;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[4096];
  // Read until every pipe is closed: a pipe left unread could fill and block the command.
  struct Stream {
    int fd;
    std::string* into;
  };
  std::vector<Stream> open_streams = {{out_fds[0], &result.output}};
  if (separate) open_streams.push_back({err_fds[0], &result.error_output});
  while (!open_streams.empty()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    std::vector<pollfd> polled;
    for (const auto& stream : open_streams) polled.push_back({stream.fd, POLLIN, 0});
    int ready = poll(polled.data(), polled.size(), static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    for (size_t i = polled.size(); i-- > 0;) {
      if (polled[i].revents == 0) continue;
      ssize_t n = read(polled[i].fd, buffer, sizeof(buffer));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        close(open_streams[i].fd);
        open_streams.erase(open_streams.begin() + static_cast<ptrdiff_t>(i));
        continue;
      }
      open_streams[i].into->append(buffer, static_cast<size_t>(n));
    }
  }
  for (const auto& stream : open_streams) close(stream.fd);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string SelfExecutableDirectory() {
  std::error_code ec;
  auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : path.parent_path().string();
}

std::string DirectoryContaining(const void* address) {
  Dl_info info;
  if (dladdr(address, &info) == 0 || info.dli_fname == nullptr) return SelfExecutableDirectory();
  std::error_code ec;
  auto path = std::filesystem::canonical(info.dli_fname, ec);
  if (ec) return SelfExecutableDirectory();
  return path.parent_path().string();
}

}  // namespace amlcore
