// Packing a deployment's source directory into a snapshot: a tar of its files, honouring .amlignore (or
// .gitignore when there is no .amlignore) at the directory's root.
#ifndef AMLCORE_CLIENT_SNAPSHOT_H_
#define AMLCORE_CLIENT_SNAPSHOT_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace amlcore::internal {

// gitignore-style rules: globs with *, ?, ** and [...], "!" to re-include, a trailing "/" for directories only,
// a "/" elsewhere to anchor at the root.
class IgnoreRules {
 public:
  static IgnoreRules Parse(absl::string_view text);
  // `path` is relative to the root, '/'-separated.
  bool Ignored(absl::string_view path, bool is_directory) const;

 private:
  struct Rule {
    std::string pattern;
    bool negate = false;
    bool directory_only = false;
    bool anchored = false;
  };
  std::vector<Rule> rules_;
};

struct Snapshot {
  std::string archive;       // tar
  std::string root_name;     // the source directory's name inside the app root ("" when only the script is sent)
  std::string entry_script;  // relative to root_name
  std::vector<std::string> files;
};

inline constexpr size_t kMaxSnapshotBytes = 100u * 1024 * 1024;

// What a directory being uploaded holds: files and directories by their path relative to it.
struct UploadEntry {
  std::string relative;  // '/'-separated
  std::string path;      // where to read it (through the link, for linked files)
  bool directory = false;
};

// Where a directory being uploaded is named in errors, and what to do about a link that leaves it.
struct UploadKind {
  absl::string_view name;    // "source directory"
  absl::string_view remedy;  // "copy the file in, or list the link in .amlignore"
};

// Walks `root` for an upload. A symbolic link that stays inside `root` is followed: its content is uploaded
// under the link's name. One that leads outside (or to a directory that contains it) is refused with an
// error naming it, so that an upload never carries files from elsewhere on the machine; a dangling one is
// left out. `skip(relative, is_directory)` leaves entries out before they are looked at.
absl::StatusOr<std::vector<UploadEntry>> WalkForUpload(
    const std::string& root, const UploadKind& kind,
    const std::function<bool(const std::string& relative, bool is_directory)>& skip);

// With a source directory, all of it (less ignored files) under its own name; without, just the entry script.
absl::StatusOr<Snapshot> PackSource(const std::string& source_directory, const std::string& entry_script);

}  // namespace amlcore::internal

#endif  // AMLCORE_CLIENT_SNAPSHOT_H_
