// Daemons and the processes they start: one group, counted and stopped together.
#include <signal.h>

#include <filesystem>
#include <fstream>

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

}  // namespace
}  // namespace amlcore
