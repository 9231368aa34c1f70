// Daemons and the processes they start: one group, counted and stopped together.
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "common/process.h"
#include "cpp/test_support.h"
#include "gtest/gtest.h"

namespace amlcore {
namespace {
using namespace std::chrono_literals;

// The process group of `pid` (0 when it is gone).
pid_t GroupOf(pid_t pid) {
  auto stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat.ok()) return 0;
  std::string rest = stat->substr(stat->rfind(')') + 2);  // "S ppid pgrp ..."
  pid_t group = 0;
  std::vector<std::string> fields = absl::StrSplit(rest, ' ');
  return fields.size() > 2 && absl::SimpleAtoi(fields[2], &group) ? group : 0;
}

TEST(ProcessTest, ADaemonAndWhatItStartsAreCountedAndStoppedTogether) {
  testing::TempHome dir;
  std::string pid_file = dir.path() + "/child.pid";
  // The daemon starts a child that ignores SIGTERM and holds 64 MB, then waits.
  auto daemon = SpawnDaemon(
      {.program = "/bin/sh",
       .args = {"-c", absl::StrCat("python3 -c \"import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                                   "ballast = b'x' * (64 << 20); time.sleep(300)\" & echo $! > ",
                                   pid_file, ".tmp && mv ", pid_file, ".tmp ", pid_file, "; exec sleep 300")}});
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  pid_t child = 0;
  ASSERT_TRUE(testing::Eventually([&] {
    auto text = ReadFile(pid_file);
    return text.ok() && absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &child);
  }));
  EXPECT_EQ(GroupOf(daemon->pid), daemon->pid) << "the daemon leads a group of its own";
  EXPECT_EQ(GroupOf(child), daemon->pid) << "what it starts is in its group";
  EXPECT_TRUE(testing::Eventually([&] { return GroupResidentBytes(daemon->pid) > (64u << 20); }))
      << "the child's memory counts: " << GroupResidentBytes(daemon->pid);

  AMLCORE_ASSERT_OK(Terminate(*daemon, 500ms, /*whole_group=*/true));
  EXPECT_TRUE(testing::Eventually([&] { return !IsRunning({child, 0}); })) << "the child outlived its daemon";
  // Once init has reaped them, the group is empty.
  EXPECT_TRUE(testing::Eventually([&] { return !SignalGroup(daemon->pid, 0); }));
}

// A daemon given a view of `dir` sees only the directories bound back, cannot write the read-only one, cannot
// unmount the cover (not even as root in its namespace), and cannot go around it through another process.
TEST(ProcessTest, ADaemonWithAViewSeesOnlyWhatIsBoundBack) {
  testing::TempHome dir;
  if (auto available = CheckFilesystemView(dir.path()); !available.ok()) GTEST_SKIP() << available;
  std::string mine = dir.path() + "/clusters/1/replicas/a";
  std::string shared = dir.path() + "/runtime/python";
  std::filesystem::create_directories(mine);
  std::filesystem::create_directories(shared);
  std::filesystem::create_directories(dir.path() + "/clusters/1/replicas/b");
  AMLCORE_ASSERT_OK(WriteFileAtomic(dir.path() + "/admin_token", "secret-token"));
  AMLCORE_ASSERT_OK(WriteFileAtomic(shared + "/module.py", "x = 1"));
  std::string out = mine + "/out.txt";
  std::string script = absl::StrCat(
      "cd ", dir.path(), " && find . | sort > ", out, "; ",
      "cat admin_token >> ", out, " 2>/dev/null || echo no-token >> ", out, "; ",
      "cat ", shared, "/module.py >> ", out, "; echo >> ", out, "; ",
      "echo y > ", shared, "/new.py 2>/dev/null && echo wrote-shared >> ", out, " || echo shared-read-only >> ", out,
      "; ",
      "umount -l ", dir.path(), " 2>/dev/null && echo unmounted >> ", out, " || echo cover-stays >> ", out, "; ",
      "cat /proc/", getpid(), "/root", dir.path(), "/admin_token >> ", out, " 2>/dev/null || echo no-way-around >> ",
      out, "; echo done >> ", out);
  auto daemon = SpawnDaemon({.program = "/bin/sh",
                             .args = {"-c", script},
                             .view = FilesystemView{.hidden = dir.path(), .writable = {mine}, .readable = {shared}}});
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  std::string seen;
  ASSERT_TRUE(testing::Eventually([&] {
    seen = ReadFile(out).value_or("");
    return absl::StrContains(seen, "done");
  })) << seen;
  EXPECT_EQ(seen,
            ".\n./clusters\n./clusters/1\n./clusters/1/replicas\n./clusters/1/replicas/a\n"
            "./clusters/1/replicas/a/out.txt\n./runtime\n./runtime/python\n./runtime/python/module.py\n"
            "no-token\nx = 1\nshared-read-only\ncover-stays\nno-way-around\ndone\n");
  EXPECT_FALSE(std::filesystem::exists(shared + "/new.py"));
}

// What cannot be set up is an error of the spawn, never a daemon that sees everything.
TEST(ProcessTest, AViewThatCannotBeMadeFailsTheSpawn) {
  testing::TempHome dir;
  if (auto available = CheckFilesystemView(dir.path()); !available.ok()) GTEST_SKIP() << available;
  auto daemon = SpawnDaemon({.program = "/bin/true",
                             .view = FilesystemView{.hidden = dir.path(), .writable = {dir.path() + "/missing"}}});
  ASSERT_FALSE(daemon.ok());
  EXPECT_EQ(daemon.status().message(),
            "Cannot start /bin/true: its private file system view failed while opening a directory to bind: No "
            "such file or directory");
}

}  // namespace
}  // namespace amlcore
