#include "client/snapshot.h"

#include "absl/strings/str_cat.h"

#include <filesystem>
#include <fstream>

#include "common/tar.h"
#include "cpp/test_support.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace amlcore {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

TEST(TarTest, RoundTripsFilesDirectoriesAndLongPaths) {
  std::string long_dir(120, 'd');
  std::vector<TarEntry> entries = {{"a.txt", "alpha", false, false},
                                   {"bin", "", true, false},
                                   {"bin/run.sh", "#!/bin/sh\n", false, true},
                                   {long_dir + "/file.py", std::string(2000, 'x'), false, false}};
  auto archive = WriteTar(entries);
  ASSERT_TRUE(archive.ok()) << archive.status();
  auto back = ReadTar(*archive);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->size(), 4u);
  EXPECT_EQ((*back)[0].content, "alpha");
  EXPECT_TRUE((*back)[1].directory);
  EXPECT_TRUE((*back)[2].executable);
  EXPECT_EQ((*back)[3].path, long_dir + "/file.py");
  EXPECT_EQ((*back)[3].content.size(), 2000u);
  EXPECT_THAT(std::string(WriteTar({{std::string(300, 'p'), "", false, false}}).status().message()),
              HasSubstr("too long"));
}

TEST(TarTest, RefusesEntriesThatEscapeTheirDirectory) {
  for (const char* bad : {"../evil.py", "a/../../evil.py", "/etc/passwd"}) {
    // Built by hand, since the writer refuses them too.
    auto archive = WriteTar({{"placeholder-name-x", "x", false, false}});
    ASSERT_TRUE(archive.ok());
    std::string data = *archive;
    std::string name(bad);
    std::fill(data.begin(), data.begin() + 100, '\0');
    std::copy(name.begin(), name.end(), data.begin());
    unsigned sum = 0;
    for (size_t i = 0; i < 512; ++i) sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(data[i]);
    char checksum[8];
    std::snprintf(checksum, sizeof(checksum), "%06o", sum);
    std::copy(checksum, checksum + 7, data.begin() + 148);
    auto read = ReadTar(data);
    EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(read.status().message()), ::testing::AnyOf(HasSubstr("escapes its directory"),
                                                                        HasSubstr("is not a relative path")));
  }
  EXPECT_THAT(std::string(ReadTar(std::string(1024, 'z')).status().message()), HasSubstr("corrupt"));
}

TEST(IgnoreRulesTest, FollowsGitignoreSemantics) {
  auto rules = internal::IgnoreRules::Parse(
      "# comment\n*.pyc\n/build/\ndata/\n!keep.pyc\nlogs/**/*.log\ndocs/*.md\n[ab].tmp\n");
  EXPECT_TRUE(rules.Ignored("x.pyc", false));
  EXPECT_TRUE(rules.Ignored("deep/dir/x.pyc", false));
  EXPECT_FALSE(rules.Ignored("keep.pyc", false));
  EXPECT_TRUE(rules.Ignored("build", true));
  EXPECT_FALSE(rules.Ignored("src/build", true)) << "a leading / anchors at the root";
  EXPECT_TRUE(rules.Ignored("src/data", true));
  EXPECT_FALSE(rules.Ignored("data", false)) << "a trailing / matches directories only";
  EXPECT_TRUE(rules.Ignored("logs/a/b/c.log", false));
  EXPECT_TRUE(rules.Ignored("logs/c.log", false));
  EXPECT_TRUE(rules.Ignored("docs/readme.md", false));
  EXPECT_FALSE(rules.Ignored("docs/sub/readme.md", false));
  EXPECT_TRUE(rules.Ignored("a.tmp", false));
  EXPECT_FALSE(rules.Ignored("c.tmp", false));
}

TEST(SnapshotTest, PacksTheSourceDirectoryLessIgnoredFiles) {
  testing::TempHome dir;
  fs::path src = fs::path(dir.path()) / "app";
  fs::create_directories(src / "data");
  fs::create_directories(src / ".git");
  std::ofstream(src / "score.py") << "def init(): pass\ndef run(d): return d\n";
  std::ofstream(src / "helper.py") << "X = 1\n";
  std::ofstream(src / "data" / "big.csv") << "1,2,3\n";
  std::ofstream(src / ".git" / "HEAD") << "ref\n";
  std::ofstream(src / ".amlignore") << "data/\n";
  auto snapshot = internal::PackSource(src.string(), "score.py");
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  EXPECT_EQ(snapshot->root_name, "app");
  EXPECT_EQ(snapshot->entry_script, "score.py");
  EXPECT_THAT(snapshot->files, UnorderedElementsAre("score.py", "helper.py", ".amlignore"));
  std::ofstream(src / ".amlignore") << "*.py\n";
  EXPECT_THAT(std::string(internal::PackSource(src.string(), "score.py").status().message()),
              HasSubstr("is excluded by the source directory's ignore file"));
  auto alone = internal::PackSource("", (src / "helper.py").string());
  ASSERT_TRUE(alone.ok());
  EXPECT_EQ(alone->root_name, "");
  EXPECT_THAT(alone->files, UnorderedElementsAre("helper.py"));
}

TEST(SnapshotTest, FollowsLinksThatStayInsideAndRefusesThoseThatLeave) {
  testing::TempHome dir;
  fs::path src = fs::path(dir.path()) / "app";
  fs::create_directories(src / "lib");
  std::ofstream(src / "score.py") << "def init(): pass\ndef run(d): return d\n";
  std::ofstream(src / "lib" / "helper.py") << "X = 1\n";
  std::ofstream(fs::path(dir.path()) / "secret.txt") << "not yours\n";
  fs::create_symlink("lib/helper.py", src / "helper_link.py");
  fs::create_directory_symlink("lib", src / "lib_link");
  fs::create_symlink("missing.py", src / "dangling.py");
  auto snapshot = internal::PackSource(src.string(), "score.py");
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  // Links inside are uploaded as what they point to, under their own names.
  EXPECT_THAT(snapshot->files,
              UnorderedElementsAre("score.py", "lib/helper.py", "helper_link.py", "lib_link/helper.py"));
  auto entries = ReadTar(snapshot->archive);
  ASSERT_TRUE(entries.ok());
  for (const auto& e : *entries) {
    if (e.path == "helper_link.py" || e.path == "lib_link/helper.py") EXPECT_EQ(e.content, "X = 1\n");
  }

  fs::create_symlink("../../secret.txt", src / "lib" / "stolen.txt");
  auto refused = internal::PackSource(src.string(), "score.py");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr(absl::StrCat("The source directory ", src.string(),
                                     " holds a symbolic link that points outside it: 'lib/stolen.txt' -> "
                                     "'../../secret.txt'. Links may point only inside the source directory (what "
                                     "they point to is uploaded in their place); copy the file in, or list the "
                                     "link in .amlignore.")));
  std::ofstream(src / ".amlignore") << "stolen.txt\n";
  EXPECT_TRUE(internal::PackSource(src.string(), "score.py").ok()) << "an ignored link is not looked at";

  fs::create_directory_symlink("..", src / "lib" / "up");
  EXPECT_THAT(std::string(internal::PackSource(src.string(), "score.py").status().message()),
              HasSubstr("holds a symbolic link to a directory that contains it: 'lib/up' -> '..'"));
}

}  // namespace
}  // namespace amlcore
