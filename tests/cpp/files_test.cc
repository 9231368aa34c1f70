// Reading the end of big files, and keeping a process's output in bounded files.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/log_capture.h"
#include "cpp/test_support.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace amlcore {
namespace {
namespace fs = std::filesystem;
using ::testing::EndsWith;
using ::testing::StartsWith;

TEST(ReadLastLinesTest, ReadsTheEndOfAFile) {
  testing::TempHome dir;
  std::string path = dir.path() + "/log";
  ASSERT_TRUE(WriteFileAtomic(path, "one\ntwo\n\nthree\nfour\n\n\n").ok());
  EXPECT_EQ(*ReadLastLines(path, 2), "three\nfour");
  EXPECT_EQ(*ReadLastLines(path, 3), "\nthree\nfour");
  EXPECT_EQ(*ReadLastLines(path, 100), "one\ntwo\n\nthree\nfour");
  EXPECT_EQ(*ReadLastLines(path, 0), "");
  ASSERT_TRUE(WriteFileAtomic(path, "no newline at the end").ok());
  EXPECT_EQ(*ReadLastLines(path, 1), "no newline at the end");
  EXPECT_EQ(ReadLastLines(dir.path() + "/missing", 5).status().code(), absl::StatusCode::kNotFound);
}

TEST(ReadLastLinesTest, ReadsOnlyUpToItsByteLimitFromTheEnd) {
  testing::TempHome dir;
  std::string path = dir.path() + "/big.log";
  {
    std::ofstream out(path);
    for (int i = 0; i < 200000; ++i) out << "line " << i << " of a long log\n";  // about 4.5 MB
  }
  EXPECT_EQ(*ReadLastLines(path, 2), "line 199998 of a long log\nline 199999 of a long log");
  // 100 lines do not fit in 200 bytes: whole lines from the end only, none cut in half.
  std::string capped = *ReadLastLines(path, 100, 200);
  EXPECT_LE(capped.size(), 200u);
  EXPECT_THAT(capped, StartsWith("line "));
  EXPECT_THAT(capped, EndsWith("line 199999 of a long log"));
  // One line longer than the limit is returned in part rather than not at all.
  ASSERT_TRUE(WriteFileAtomic(path, std::string(5000, 'x')).ok());
  EXPECT_EQ(*ReadLastLines(path, 3, 100), std::string(100, 'x'));
}

TEST(CheckContainedPathTest, OnlyDotDotSegmentsEscape) {
  for (const char* fine : {"model/weights..bin", "model/..hidden", "a/b/c.txt", "...", "x..", ".profile"}) {
    EXPECT_TRUE(CheckContainedPath(fine).ok()) << fine;
  }
  for (const char* escapes : {"..", "../x", "model/../../etc/passwd", "a/.."}) {
    auto s = CheckContainedPath(escapes);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << escapes;
    EXPECT_EQ(s.message(), absl::StrCat("'", escapes, "' escapes its directory: no part of a path may be '..' "
                                        "(names such as 'weights..bin' are fine)."));
  }
  for (const char* absolute : {"", "/etc/passwd", "a\\b"}) {
    EXPECT_EQ(CheckContainedPath(absolute).message(),
              absl::StrCat("'", absolute, "' is not a relative path: use '/' between names, and no leading '/' or "
                                          "'\\'."));
  }
}

std::string Contents(const std::string& path) { return ReadFile(path).value_or(""); }

TEST(LogCaptureTest, KeepsOutputUnderTheCapAtLineBoundaries) {
  testing::TempHome dir;
  std::string path = dir.path() + "/replica.log";
  ASSERT_TRUE(WriteFileAtomic(path, "written before the capture\n").ok());
  int out = open("/dev/null", O_WRONLY | O_CLOEXEC);
  {
    auto capture = LogCapture::Start(path, {.max_file_bytes = 1000, .descriptors = {out}});
    ASSERT_TRUE(capture.ok()) << capture.status();
    std::string text;
    for (int i = 0; i < 500; ++i) absl::StrAppend(&text, "line ", i, " of the flood\n");  // about 10 kB
    ASSERT_EQ(write(out, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    // A process forked from here writes into the same pipe.
    pid_t child = fork();
    if (child == 0) {
      const char line[] = "from the child\n";
      [[maybe_unused]] ssize_t n = write(out, line, sizeof(line) - 1);
      _exit(0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    (*capture)->Flush();
    std::string current = Contents(path);
    std::string rotated = Contents(path + ".1");
    EXPECT_LE(current.size(), 1000u);
    EXPECT_LE(rotated.size(), 1000u);
    EXPECT_GT(rotated.size(), 900u) << "files are filled up to the cap";
    EXPECT_THAT(rotated, StartsWith("line "));
    EXPECT_THAT(rotated, EndsWith(" of the flood\n"));
    EXPECT_THAT(current, StartsWith("line "));
    EXPECT_THAT(current, EndsWith("line 499 of the flood\nfrom the child\n"));
  }
  // Stopped, the descriptor writes to the file directly.
  const char after[] = "after the capture\n";
  ASSERT_EQ(write(out, after, sizeof(after) - 1), static_cast<ssize_t>(sizeof(after) - 1));
  EXPECT_THAT(Contents(path), EndsWith("from the child\nafter the capture\n"));
  close(out);
  // Nothing else was made next to the log.
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir.path())) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"replica.log", "replica.log.1"}));
}

}  // namespace
}  // namespace amlcore
